package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The readable result keeps the order of the keys the tools wrote (Go maps would sort them) and
// shortens fractional numbers to significantDigits; --json prints the exact values.
const significantDigits = 6

// maxTableRows bounds the rows of one record table; --json prints every item.
const maxTableRows = 50

// jsonValue is a decoded JSON value that keeps the order of object keys: nil, bool, json.Number,
// string, []jsonValue or []member.
type jsonValue any

// member is one key of an object.
type member struct {
	key   string
	value jsonValue
}

// decodeOrdered decodes raw keeping the order of object keys.
func decodeOrdered(raw json.RawMessage) (jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('['):
		list := []jsonValue{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token() // ]
		return list, err
	case json.Delim('{'):
		obj := []member{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{key: key.(string), value: v})
		}
		_, err := dec.Token() // }
		return obj, err
	}
	return tok, nil
}

// readableNumber shortens a fractional number to significantDigits (0.9533333333333334 is
// 0.953333, 0.010000000000000002 is 0.01); integers are left whole.
func readableNumber(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := n.Float64()
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'g', significantDigits, 64)
}

// writeCompact writes v as compact JSON with readable numbers.
func writeCompact(b *strings.Builder, v jsonValue) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(readableNumber(v))
	case string:
		quoted, _ := json.Marshal(v)
		b.Write(quoted)
	case []jsonValue:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCompact(b, e)
		}
		b.WriteByte(']')
	case []member:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			quoted, _ := json.Marshal(m.key)
			b.Write(quoted)
			b.WriteByte(':')
			writeCompact(b, m.value)
		}
		b.WriteByte('}')
	}
}

// readableJSON is raw as compact JSON in key order with readable numbers.
func readableJSON(raw json.RawMessage) string {
	v, err := decodeOrdered(raw)
	if err != nil {
		return compactJSON(raw)
	}
	var b strings.Builder
	writeCompact(&b, v)
	return b.String()
}

// recordTable is a result that is a list of JSON objects (a map step over records, such as a
// sweep's evaluations), shown as a table: one row per item, one column per key that holds a
// scalar (string, number, bool or null) in some item.
type recordTable struct {
	columns []string
	rows    [][]string
	// hidden are the keys that only hold lists or objects; --json shows them.
	hidden []string
}

// recordsOf returns the record table of raw, or false when raw is not a non-empty list of
// objects with at least one scalar key.
func recordsOf(raw json.RawMessage) (*recordTable, bool) {
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, false
	}
	list, ok := v.([]jsonValue)
	if !ok || len(list) == 0 {
		return nil, false
	}
	objects := make([][]member, len(list))
	for i, item := range list {
		if objects[i], ok = item.([]member); !ok {
			return nil, false
		}
	}
	scalar := map[string]bool{}
	var order []string
	seen := map[string]bool{}
	for _, obj := range objects {
		for _, m := range obj {
			if !seen[m.key] {
				seen[m.key] = true
				order = append(order, m.key)
			}
			switch m.value.(type) {
			case []jsonValue, []member:
			default:
				scalar[m.key] = true
			}
		}
	}
	t := &recordTable{}
	for _, k := range order {
		if scalar[k] {
			t.columns = append(t.columns, k)
		} else {
			t.hidden = append(t.hidden, k)
		}
	}
	if len(t.columns) == 0 {
		return nil, false
	}
	for _, obj := range objects {
		cells := make(map[string]string, len(obj))
		for _, m := range obj {
			cells[m.key] = cell(m.value)
		}
		row := make([]string, len(t.columns))
		for i, c := range t.columns {
			if s, ok := cells[c]; ok {
				row[i] = s
			} else {
				row[i] = "-"
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, true
}

// cell is a table cell: strings unquoted, numbers readable, lists and objects as "[...]"/"{...}".
func cell(v jsonValue) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return readableNumber(v)
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []jsonValue:
		return "[...]"
	default:
		return "{...}"
	}
}

// print writes the table under a title line, indented, with its item index as the first column.
func (t *recordTable) print(w io.Writer, title string) error {
	fmt.Fprintf(w, "\n%s: %d results\n", title, len(t.rows))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  #\t%s\n", strings.Join(t.columns, "\t"))
	for i, row := range t.rows {
		if i == maxTableRows {
			fmt.Fprintf(tw, "  ...\t%d more (--json prints every item)\n", len(t.rows)-maxTableRows)
			break
		}
		fmt.Fprintf(tw, "  %d\t%s\n", i, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.hidden) > 0 {
		fmt.Fprintf(w, "  (not shown: %s; --json prints them)\n", strings.Join(t.hidden, ", "))
	}
	return nil
}

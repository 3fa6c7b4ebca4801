package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ParseInput checks a pipeline's input (the Pipeline workflow's second argument, e.g. the file of
// the starter's --input): it must be one JSON value. The error names the line and column of the
// first syntax error.
func ParseInput(data []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid pipeline input: %w", jsonSyntaxError(data, err))
	}
	if err := trailingData(data, dec, "value"); err != nil {
		return nil, fmt.Errorf("invalid pipeline input: %w", err)
	}
	return v, nil
}

// jsonSyntaxError is err, a decoding error of data, with the line and column it happened at.
func jsonSyntaxError(data []byte, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%s: %w", position(data, syntax.Offset-1), err) // Offset is just after the bad byte
	case errors.Is(err, io.EOF):
		return errors.New("the text is empty: a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: the JSON ends before the value does (unexpected end of input)", position(data, int64(len(data))))
	}
	return err
}

// trailingData fails when data holds more after the top-level what (e.g. "object") dec decoded.
func trailingData(data []byte, dec *json.Decoder, what string) error {
	offset := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		rest := bytes.TrimLeft(data[offset:], " \t\r\n")
		return fmt.Errorf("%s: unexpected data after the top-level %s", position(data, int64(len(data)-len(rest))), what)
	}
	return nil
}

// position names the byte offset of data as "line L, column C" (both from 1; a column counts
// bytes).
func position(data []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	column := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, column)
}

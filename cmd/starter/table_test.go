package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/workflows"
)

func TestPrintResultRecordTables(t *testing.T) {
	result := workflows.PipelineResult{Results: []workflows.StepResult{
		{Step: 0, Name: "train", Pool: "ml", Tool: "train", Result: json.RawMessage(
			`[{"started_from_epoch": 0, "accuracy": 0.9533333333333334, "model": {"coef": [1]}},
			  {"started_from_epoch": 3, "accuracy": 0.91, "model": {"coef": [2]}, "note": "resumed"}]`)},
		{Step: 1, Name: "best", Pool: "ml", Tool: "pick_best", Result: json.RawMessage(
			`{"index": 0, "value": 0.010000000000000002, "alpha": 1e-4, "big": 62710561}`)},
		{Step: 2, Name: "plain", Pool: "math", Tool: "square", Result: json.RawMessage(`[[1, 2], {"a": 1}]`)},
	}}
	var out bytes.Buffer
	require.NoError(t, printResult(&out, result, false))
	assert.Equal(t, strings.Join([]string{
		"STEP   POOL  TOOL       RESULT",
		"train  ml    train      2 results (table below)",
		`best   ml    pick_best  {"index":0,"value":0.01,"alpha":0.0001,"big":62710561}`,
		`plain  math  square     [[1,2],{"a":1}]`,
		"",
		"train: 2 results",
		"  #  started_from_epoch  accuracy  note",
		"  0  0                   0.953333  -",
		"  1  3                   0.91      resumed",
		"  (not shown: model; --json prints them)",
		"",
	}, "\n"), out.String())
}

func TestRecordsOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		ok   bool
	}{
		{"a list of objects", `[{"a": 1}, {"b": "x"}]`, true},
		{"an empty list", `[]`, false},
		{"a list with a non-object", `[{"a": 1}, 2]`, false},
		{"objects without scalars", `[{"a": [1]}, {"a": {"b": 1}}]`, false},
		{"an object", `{"a": 1}`, false},
		{"not JSON", `[{"a": 1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok := recordsOf(json.RawMessage(tc.raw))
			assert.Equal(t, tc.ok, ok)
		})
	}
	table, ok := recordsOf(json.RawMessage(`[{"b": 1, "a": 2}]`))
	require.True(t, ok)
	assert.Equal(t, []string{"b", "a"}, table.columns, "the tool's key order")

	rows := make([]string, maxTableRows+5)
	for i := range rows {
		rows[i] = `{"i": 1}`
	}
	big, ok := recordsOf(json.RawMessage("[" + strings.Join(rows, ",") + "]"))
	require.True(t, ok)
	var out bytes.Buffer
	require.NoError(t, big.print(&out, "big"))
	assert.Contains(t, out.String(), "  ...  5 more (--json prints every item)\n")
	assert.Equal(t, maxTableRows+4, strings.Count(out.String(), "\n"), "title, blank line, header, 50 rows and the rest")
}

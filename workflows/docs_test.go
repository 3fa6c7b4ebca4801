package workflows_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/workflows"
)

// docBlock is a fenced code block of docs/pipelines.md.
type docBlock struct {
	info   string // the fence's info string, e.g. "json"
	text   string
	marker string // the HTML comment right before the fence, e.g. "result"
	line   int
}

var markerPattern = regexp.MustCompile(`^<!-- (\S+) -->$`)

func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "pipelines.md"))
	require.NoError(t, err)
	var blocks []docBlock
	var cur *docBlock
	var body strings.Builder
	prev := ""
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{info: strings.TrimPrefix(line, "```"), line: n}
			if m := markerPattern.FindStringSubmatch(prev); m != nil {
				cur.marker = m[1]
			}
			body.Reset()
		case cur != nil && line == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
		prev = line
	}
	require.NoError(t, scanner.Err())
	require.Nil(t, cur, "unclosed code block")
	return blocks
}

// docExample is a pipeline spec of the docs, with the error or the result the docs show for it.
type docExample struct {
	spec       string
	line       int
	wantErr    string // the error ParseSpec returns, when the docs show one
	wantResult string // the PipelineResult ("result") or the list of step results ("results"), when shown
	resultKind string
}

// docExamples returns the specs of docs/pipelines.md: every json block without a marker.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	blocks := docBlocks(t)
	var examples []docExample
	for i, b := range blocks {
		if b.info != "json" || b.marker != "" {
			continue
		}
		ex := docExample{spec: b.text, line: b.line}
		if i+1 < len(blocks) {
			next := blocks[i+1]
			switch {
			case next.info == "text" && strings.HasPrefix(next.text, "invalid pipeline"):
				ex.wantErr = strings.TrimSpace(next.text)
			case next.marker == "result" || next.marker == "results":
				ex.wantResult, ex.resultKind = next.text, next.marker
			}
		}
		examples = append(examples, ex)
	}
	return examples
}

// TestDocExamples checks every spec of docs/pipelines.md: valid, or failing with the error shown.
func TestDocExamples(t *testing.T) {
	examples := docExamples(t)
	require.GreaterOrEqual(t, len(examples), 12)
	withResult, withErr := 0, 0
	for _, ex := range examples {
		_, err := workflows.ParseSpec([]byte(ex.spec))
		if ex.wantErr != "" {
			withErr++
			if assert.Error(t, err, "docs/pipelines.md:%d", ex.line) {
				assert.Equal(t, ex.wantErr, err.Error(), "docs/pipelines.md:%d", ex.line)
			}
			continue
		}
		assert.NoError(t, err, "docs/pipelines.md:%d", ex.line)
		if ex.wantResult != "" {
			withResult++
			assert.True(t, json.Valid([]byte(ex.wantResult)), "docs/pipelines.md:%d: the result is JSON", ex.line)
		}
	}
	assert.GreaterOrEqual(t, withErr, 6)
	assert.GreaterOrEqual(t, withResult, 6)

	// The documented answer of the progress query has exactly the fields of Progress.
	found := false
	for _, b := range docBlocks(t) {
		if b.marker != "progress" {
			continue
		}
		found = true
		dec := json.NewDecoder(strings.NewReader(b.text))
		dec.DisallowUnknownFields()
		var p workflows.Progress
		require.NoError(t, dec.Decode(&p), "docs/pipelines.md:%d", b.line)
		assert.Equal(t, workflows.StatusRunning, p.Status)
	}
	assert.True(t, found, "docs/pipelines.md shows a progress query answer")
}

// runDocExamples runs the examples of docs/pipelines.md that show a result, and compares.
func runDocExamples(t *testing.T, s stack) {
	for _, ex := range docExamples(t) {
		if ex.wantResult == "" {
			continue
		}
		result, err := wait(t, s.start(t, ex.spec))
		require.NoError(t, err, "docs/pipelines.md:%d", ex.line)
		got, err := json.Marshal(result)
		require.NoError(t, err)
		if ex.resultKind == "results" {
			values := make([]json.RawMessage, len(result.Results))
			for i, r := range result.Results {
				values[i] = r.Result
			}
			got, err = json.Marshal(values)
			require.NoError(t, err)
		}
		assert.JSONEq(t, ex.wantResult, string(got), "docs/pipelines.md:%d", ex.line)
	}
}

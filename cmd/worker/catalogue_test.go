package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
)

// codeSpan is a Markdown code span: `text` or “text with `backticks` “.
var codeSpan = regexp.MustCompile("(`+)(.+?)(`+)")

// TestBadInputCatalogue keeps docs/reliability.md#bad-input true: it lists at least 20 kinds of bad
// input, and each row's test exists and asserts every part of the row's message (the parts
// between "…"), as written in the test's source (escapes aside).
func TestBadInputCatalogue(t *testing.T) {
	root := testenv.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "reliability.md"))
	require.NoError(t, err)
	section, ok := strings.CutPrefix(string(doc)[strings.Index(string(doc), "\n## Bad input\n")+1:], "## Bad input\n")
	require.True(t, ok, "docs/reliability.md has a section ## Bad input")
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) != 4 || cells[0] == "Kind" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows++
		kind, message, test := cells[0], cells[2], spans(cells[3])
		t.Run(kind, func(t *testing.T) {
			require.Len(t, test, 2, "the test cell names a file and a test: %s", cells[3])
			source, err := os.ReadFile(filepath.Join(root, test[0]))
			require.NoError(t, err, "the test's file")
			code := unescape(string(source))
			assert.True(t, strings.Contains(code, "func "+test[1]+"(") || strings.Contains(code, "def "+test[1]+"("),
				"%s has no test %s", test[0], test[1])
			parts := spans(message)
			require.NotEmpty(t, parts, "the message cell has the message as code: %s", message)
			for _, part := range parts {
				for _, fragment := range strings.Split(part, "…") {
					if fragment = strings.TrimSpace(fragment); fragment != "" {
						assert.True(t, strings.Contains(code, unescape(fragment)), "%s does not assert %q", test[0], fragment)
					}
				}
			}
		})
	}
	assert.GreaterOrEqual(t, rows, 20, "kinds of bad input in docs/reliability.md")
}

// spans returns the contents of the code spans of a Markdown table cell.
func spans(cell string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		text := m[2]
		if len(m[1]) > 1 && strings.HasPrefix(text, " ") && strings.HasSuffix(text, " ") {
			text = text[1 : len(text)-1]
		}
		out = append(out, text)
	}
	return out
}

// unescape drops the backslashes of string literals (and of Markdown), so that `"a"` in the docs
// matches "\"a\"" in Go source.
func unescape(s string) string { return strings.ReplaceAll(s, `\`, "") }

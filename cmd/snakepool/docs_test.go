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

// helpBlock is a fenced block of docs/cli.md that shows a verb's --help.
var helpBlock = regexp.MustCompile("(?s)```\n\\$ snakepool (\\w+) --help\n(.*?)\n```")

// TestTheDocsShowEachVerbsHelpAsItIs: docs/cli.md has a --help block for every verb, equal to
// what the command prints.
func TestTheDocsShowEachVerbsHelpAsItIs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "cli.md"))
	require.NoError(t, err)
	shown := map[string]string{}
	for _, m := range helpBlock.FindAllStringSubmatch(string(data), -1) {
		shown[m[1]] = m[2]
	}
	for name := range verbs {
		s := newSession(nil)
		require.Equal(t, exitOK, s.env.run([]string{name, "--help"}))
		doc, ok := shown[name]
		if assert.True(t, ok, "docs/cli.md has no block for `snakepool %s --help`", name) {
			assert.Equal(t, strings.TrimRight(s.stderr.String(), "\n"), doc, "docs/cli.md: snakepool %s --help", name)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/snakepool/snakepool/workflows"
)

// checkSpecCommand prints {"ok": true} when this build's Pipeline accepts the spec in the file,
// {"ok": false, "error": "..."} otherwise: this is how the harness tells whether a feature such as
// map.batch_size exists, without starting anything.
func checkSpecCommand(_ context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"check-spec FILE"}
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	if _, err := workflows.ParseSpec(data); err != nil {
		return writeJSON(stdout, map[string]any{"ok": false, "error": err.Error()})
	}
	return writeJSON(stdout, map[string]any{"ok": true})
}

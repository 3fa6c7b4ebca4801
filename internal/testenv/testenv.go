// Package testenv finds what the tests of this repository need on the machine: the Python
// interpreter with the snakepool package installed and the Temporal CLI. `make test` sets both
// through SNAKEPOOL_PYTHON and SNAKEPOOL_TEMPORAL; without them the repository's own .venv and bin/
// are used. A test that needs one fails (never skips) with a message that says how to install it.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot returns the repository's root directory (the one holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Python returns the interpreter that has the snakepool package installed.
func Python(t testing.TB) string {
	t.Helper()
	return find(t, "SNAKEPOOL_PYTHON", filepath.Join(".venv", "bin", "python"))
}

// Temporal returns the Temporal CLI binary (dev server and Web UI).
func Temporal(t testing.TB) string {
	t.Helper()
	return find(t, "SNAKEPOOL_TEMPORAL", filepath.Join("bin", "temporal"))
}

func find(t testing.TB, envVar, relative string) string {
	t.Helper()
	path := os.Getenv(envVar)
	if path == "" {
		path = filepath.Join(RepoRoot(t), relative)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("testenv: %s not found (%v); run `make deps` or set %s", path, err, envVar)
	}
	return path
}

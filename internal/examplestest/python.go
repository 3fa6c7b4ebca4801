package examplestest

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snakepool/snakepool/internal/testenv"
)

// CommandTimeout bounds one command of Run (a pip install included).
const CommandTimeout = 5 * time.Minute

// Run runs name with args in dir (the current directory when empty), with pip's version check
// off, and returns its combined output; the test fails if the command fails.
func Run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out, err := RunStatus(t, dir, nil, name, args...)
	if err != nil {
		t.Fatalf("examplestest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// RunStatus is Run with env added to the environment, returning the command's error (an
// *exec.ExitError for a non-zero exit) instead of failing the test.
func RunStatus(t testing.TB, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// CopyTree copies the files of src into dst, skipping the directories whose names are, or end
// with, one of skip.
func CopyTree(t testing.TB, src, dst string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			for _, s := range skip {
				if d.Name() == s || strings.HasSuffix(d.Name(), s) {
					return filepath.SkipDir
				}
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("examplestest: copy %s: %v", src, err)
	}
}

// BuildWheel builds the snakepool Python package of this checkout as a wheel, from a copy of
// python/ (so that the build leaves nothing in the repository), with the tests' interpreter, and
// returns the wheel's path (in the test's temporary directory). It takes about a second.
func BuildWheel(t testing.TB) string {
	t.Helper()
	python := testenv.Python(t)
	work := t.TempDir()
	source := filepath.Join(work, "source")
	CopyTree(t, filepath.Join(testenv.RepoRoot(t), "python"), source,
		"tests", "build", ".egg-info", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")
	wheels := filepath.Join(work, "wheels")
	Run(t, "", python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", source, "-w", wheels)
	built, err := filepath.Glob(filepath.Join(wheels, "snakepool-*.whl"))
	if err != nil || len(built) != 1 {
		t.Fatalf("examplestest: want one snakepool wheel in %s, got %v (%v)", wheels, built, err)
	}
	return built[0]
}

// NewVenv creates a virtualenv at dir (as a user's project has its own) with the requirements
// installed by the tests' pip (a wheel's path, "pytest>=8", ...), and returns its interpreter.
// Dependencies come from the package index, or pip's cache.
func NewVenv(t testing.TB, dir string, requirements ...string) string {
	t.Helper()
	python := testenv.Python(t)
	Run(t, "", python, "-m", "venv", "--without-pip", dir)
	venvPython := filepath.Join(dir, "bin", "python")
	if len(requirements) > 0 {
		Run(t, "", python, append([]string{"-m", "pip", "--python", venvPython, "install", "--quiet"}, requirements...)...)
	}
	return venvPython
}

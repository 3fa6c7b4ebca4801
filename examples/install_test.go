package examples_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/pools"
)

// userAdapter is an adapter of a user's project, in a directory of its own outside the repository.
const userAdapter = `
import snakepool
from snakepool import Adapter, ToolContext, tool


class Greeter(Adapter):
    @tool(description="Greet someone, heartbeating once")
    def greet(self, name: str, ctx: ToolContext) -> dict:
        ctx.heartbeat({"greeting": name})
        return {"hello": name, "snakepool": snakepool.__file__}
`

// copyTree copies the files of src into dst, skipping the directories named in skip.
func copyTree(t *testing.T, src, dst string, skip ...string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
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
	}))
}

func runCommand(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// TestWheelInstalledElsewhere is the install path of docs/install.md: the Python package is built
// as a wheel, installed into a new virtualenv outside the repository (as a user's project has),
// and a real pool started with that interpreter serves an adapter from a directory outside the
// repository.
func TestWheelInstalledElsewhere(t *testing.T) {
	python := testenv.Python(t)
	root := testenv.RepoRoot(t)
	work := t.TempDir()

	// Build from a copy, so that the build leaves nothing in the repository.
	source := filepath.Join(work, "source")
	copyTree(t, filepath.Join(root, "python"), source, "tests", "build", ".egg-info", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache")
	wheels := filepath.Join(work, "wheels")
	runCommand(t, python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", source, "-w", wheels)
	built, err := filepath.Glob(filepath.Join(wheels, "snakepool-*.whl"))
	require.NoError(t, err)
	require.Len(t, built, 1, "one wheel")

	venv := filepath.Join(work, "user-venv")
	runCommand(t, python, "-m", "venv", "--without-pip", venv)
	userPython := filepath.Join(venv, "bin", "python")
	runCommand(t, python, "-m", "pip", "--python", userPython, "install", "--quiet", built[0])

	project := filepath.Join(work, "my-project")
	require.NoError(t, os.MkdirAll(project, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(project, "greeter.py"), []byte(userAdapter), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pools.Start(ctx, pools.Options{
		Name: "user-project", Size: 1, Adapter: "greeter:Greeter", Python: userPython, Dir: project,
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, pool.Stop(context.Background())) }()
	var beats []json.RawMessage
	result, err := pool.Call(ctx, pools.Call{Tool: "greet", Args: json.RawMessage(`{"name": "ada"}`),
		OnHeartbeat: func(h pools.Heartbeat) { beats = append(beats, h.Details) }})
	require.NoError(t, err)
	var greeting struct {
		Hello     string `json:"hello"`
		Snakepool string `json:"snakepool"`
	}
	require.NoError(t, json.Unmarshal(result, &greeting))
	assert.Equal(t, "ada", greeting.Hello)
	assert.True(t, strings.HasPrefix(greeting.Snakepool, filepath.Join(venv, "lib")),
		"snakepool is imported from the wheel in the user's virtualenv, not from the repository: %s", greeting.Snakepool)
	require.Len(t, beats, 1)
	assert.JSONEq(t, `{"greeting": "ada"}`, string(beats[0]))
}

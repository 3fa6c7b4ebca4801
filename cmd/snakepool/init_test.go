package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/workflows"
)

// TestInitWritesAProjectThatChecksClean: the generated files are what the README lists, the config
// and the pipeline are valid, and the Python code passes ruff and mypy --strict. (That it runs is
// TestANewProjectEndToEnd's part.)
func TestInitWritesAProjectThatChecksClean(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-project")
	r := runCLI(t, "init", dir)
	require.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "adapter my_project.adapter:MyProjectAdapter, pool my_project")
	for _, f := range []string{"README.md", "snakepool.yaml", "pipeline.json", "requirements.txt", "pyproject.toml",
		".gitignore", "my_project/__init__.py", "my_project/adapter.py", "tests/test_adapter.py"} {
		assert.FileExists(t, filepath.Join(dir, f))
		assert.Contains(t, r.stdout, "  "+f+"\n")
	}

	cfg, err := worker.LoadConfig(filepath.Join(dir, "snakepool.yaml"))
	require.NoError(t, err)
	require.Len(t, cfg.Pools, 1)
	assert.Equal(t, "my_project", cfg.Pools[0].Name)
	assert.Equal(t, "my_project.adapter:MyProjectAdapter", cfg.Pools[0].Adapter)
	assert.Equal(t, filepath.Join(dir, ".venv", "bin", "python"), cfg.Pools[0].Python, "the project's own virtualenv")
	assert.Equal(t, dir, cfg.Pools[0].Dir)
	spec, err := os.ReadFile(filepath.Join(dir, "pipeline.json"))
	require.NoError(t, err)
	_, err = workflows.ParseSpec(spec)
	require.NoError(t, err)
	requirements, err := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(requirements), defaultRequirement+"\n")

	py := python(t)
	examplestest.Run(t, dir, py, "-m", "ruff", "check", "--no-cache", ".")
	examplestest.Run(t, dir, py, "-m", "ruff", "format", "--no-cache", "--check", ".")
	examplestest.Run(t, dir, py, "-m", "mypy", "--strict", "--no-incremental", "my_project", "tests")
}

func TestInitOptionsAndRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "anything")
	r := runCLI(t, "init", dir, "--name", "churn", "--python", "/opt/venvs/ml/bin/python", "--snakepool", "/src/snakepool/python")
	require.Equal(t, exitOK, r.code)
	cfg, err := worker.LoadConfig(filepath.Join(dir, "snakepool.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "churn.adapter:ChurnAdapter", cfg.Pools[0].Adapter)
	assert.Equal(t, "/opt/venvs/ml/bin/python", cfg.Pools[0].Python)
	requirements, err := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	require.NoError(t, err)
	assert.Contains(t, string(requirements), "\n/src/snakepool/python\n")

	r = runCLI(t, "init", dir)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "is not empty (--force writes into it)")
	r = runCLI(t, "init", dir, "--name", "churn", "--force")
	assert.Equal(t, exitOK, r.code)

	r = runCLI(t, "init", filepath.Join(t.TempDir(), "tests"))
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `the package name "tests" would shadow`)
	r = runCLI(t, "init")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "usage: snakepool init DIR")
}

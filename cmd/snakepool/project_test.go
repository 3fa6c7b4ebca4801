package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/worker/workertest"
	"github.com/snakepool/snakepool/workflows"
)

// trained is the part of the generated train tool's result the test reads.
type trained struct {
	Model            map[string]float64 `json:"model"`
	Epochs           int                `json:"epochs"`
	StartedFromEpoch int                `json:"started_from_epoch"`
	Loss             float64            `json:"loss"`
}

// TestANewProjectEndToEnd is the path of README.md's "Your own project", run as a user runs it,
// with the built binaries: `snakepool init` into a new directory; the project's own virtualenv
// with the snakepool wheel (and pytest) installed; `snakepool call` on the generated tool (and
// Ctrl-C cancelling it); the generated pytest tests in that virtualenv; `snakepool doctor`; and a
// snakepool-worker serving the project from its virtualenv through a real dev server, running the
// generated pipeline.
func TestANewProjectEndToEnd(t *testing.T) {
	cli := examplestest.Build(t, "./cmd/snakepool")
	workerBin := examplestest.Build(t, "./cmd/worker")
	dir := filepath.Join(t.TempDir(), "my-project")
	examplestest.Run(t, "", cli, "init", dir)

	venvPython := examplestest.NewVenv(t, filepath.Join(dir, ".venv"), examplestest.BuildWheel(t), "pytest>=8")
	imported := examplestest.Run(t, dir, venvPython, "-c", "import snakepool.testing; print(snakepool.testing.__file__)")
	require.True(t, strings.HasPrefix(imported, filepath.Join(dir, ".venv", "lib")),
		"snakepool comes from the wheel in the project's virtualenv, not from the repository: %s", imported)

	t.Run("call", func(t *testing.T) {
		p := examplestest.Start(t, dir, nil, cli, "call", "train", "--args", `{"epochs": 3}`)
		require.NoError(t, p.Wait(t, 2*time.Minute))
		var result trained
		require.NoError(t, json.Unmarshal([]byte(p.Stdout()), &result), p.Stdout())
		assert.Equal(t, 3, result.Epochs)
		assert.Equal(t, 0, result.StartedFromEpoch)
		output := p.Output()
		assert.Contains(t, output, "starting pool my_project (my_project.adapter:MyProjectAdapter, "+venvPython+")")
		for i, pct := range []string{"33%", "67%", "100%"} {
			assert.Contains(t, squeeze(output), "heartbeat "+strconv.Itoa(i+1)+" "+pct+` {"epoch":`+strconv.Itoa(i+1)+`,`)
		}

		p = examplestest.Start(t, dir, nil, cli, "call", "train", "--args", `{"epochs": 3}`, "--resume", `{"epoch": 2, "w": 1.0, "b": 0.5}`)
		require.NoError(t, p.Wait(t, 2*time.Minute))
		require.NoError(t, json.Unmarshal([]byte(p.Stdout()), &result))
		assert.Equal(t, 2, result.StartedFromEpoch, "--resume reaches the tool as ctx.resume")
	})

	t.Run("Ctrl-C cancels the call", func(t *testing.T) {
		p := examplestest.Start(t, dir, nil, cli, "call", "train", "--args", `{"epochs": 1000, "epoch_seconds": 1}`)
		p.WaitLine(t, "the first heartbeat", 2*time.Minute, func(line string) bool { return strings.HasPrefix(line, "heartbeat 1 ") })
		pythons := examplestest.PythonChildren(t, p.Cmd.Process.Pid)
		require.Len(t, pythons, 1)
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGINT))
		err := p.Wait(t, time.Minute)
		var exitErr *exec.ExitError
		require.True(t, errors.As(err, &exitErr), "exit status: %v", err)
		assert.Equal(t, exitInterrupted, exitErr.ExitCode())
		assert.Contains(t, p.Output(), "python Cancelled: call", "the tool saw ctx.cancelled (ctx.sleep raised Cancelled)")
		examplestest.WaitGone(t, pythons, 10*time.Second)
	})

	t.Run("pytest", func(t *testing.T) {
		out := examplestest.Run(t, dir, venvPython, "-m", "pytest", "-p", "no:cacheprovider")
		assert.Contains(t, out, "5 passed")
	})

	t.Run("a worker through Temporal", func(t *testing.T) {
		srv := workertest.StartDevServer(t, testenv.Temporal(t))
		doctor := func() (string, int) {
			out, err := examplestest.RunStatus(t, dir, nil, cli, "doctor", "--temporal-address", srv.Address)
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				return out, exitErr.ExitCode()
			}
			require.NoError(t, err)
			return out, 0
		}
		out, code := doctor()
		assert.Equal(t, exitFailed, code, out)
		assert.Contains(t, out, "task queue snakepool.my_project (pool my_project's activities): no worker polls it")

		w := examplestest.Start(t, dir, nil, workerBin, "--config", "snakepool.yaml", "--temporal-address", srv.Address,
			"--metrics-address", "off", "--log-format", "json")
		w.WaitLog(t, worker.ReadyMessage, 2*time.Minute)
		pythons := examplestest.PythonChildren(t, w.Cmd.Process.Pid)
		require.Len(t, pythons, 2, "the pool's two Python processes")
		for _, pid := range pythons {
			cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			require.NoError(t, err)
			assert.Equal(t, venvPython, strings.Split(string(cmdline), "\x00")[0], "served from the project's virtualenv")
		}
		waitForPollers(t, srv.Client(t), workflows.TaskQueue, "snakepool.my_project")
		out, code = doctor()
		assert.Equal(t, exitOK, code, out)
		assert.Contains(t, out, "all 11 checks passed")

		data, err := os.ReadFile(filepath.Join(dir, "pipeline.json"))
		require.NoError(t, err)
		spec, err := workflows.ParseSpec(data)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		run, err := srv.Client(t).ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "my-project-train", TaskQueue: workflows.TaskQueue},
			workflows.PipelineName, spec)
		require.NoError(t, err)
		var result workflows.PipelineResult
		require.NoError(t, run.Get(ctx, &result))
		require.Len(t, result.Results, 2)
		var model trained
		require.NoError(t, json.Unmarshal(result.Results[0].Result, &model))
		assert.Equal(t, 20, model.Epochs)
		var evaluated struct {
			Loss    float64 `json:"loss"`
			Samples int     `json:"samples"`
		}
		require.NoError(t, json.Unmarshal(result.Results[1].Result, &evaluated))
		assert.Equal(t, 50, evaluated.Samples)
		assert.Less(t, evaluated.Loss, 0.1, "evaluate scored the trained model")

		require.NoError(t, w.Cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, w.Wait(t, time.Minute))
		examplestest.WaitGone(t, pythons, 10*time.Second)
	})
}

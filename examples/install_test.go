package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
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

// TestWheelInstalledElsewhere is the install path of docs/install.md: the Python package is built
// as a wheel, installed into a new virtualenv outside the repository (as a user's project has),
// and a real pool started with that interpreter serves an adapter from a directory outside the
// repository.
func TestWheelInstalledElsewhere(t *testing.T) {
	work := t.TempDir()
	wheel := examplestest.BuildWheel(t)
	venv := filepath.Join(work, "user-venv")
	userPython := examplestest.NewVenv(t, venv, wheel)

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

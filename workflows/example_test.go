package workflows_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/workflows"
)

// The Go example of docs/pipelines.md, between the markers, verbatim.

// docs:begin
type squareInput struct {
	X float64 `json:"x"`
}

// SumOfSquares is a workflow that squares xs on the math pool, all at once, then asks whether
// the sum is prime.
func SumOfSquares(ctx workflow.Context, xs []float64) (map[string]any, error) {
	futures := make([]*workflows.ToolFuture[float64], len(xs))
	for i, x := range xs {
		futures[i] = workflows.StartTool[float64](ctx, "math", "square", squareInput{X: x})
	}
	var sum float64
	for _, f := range futures {
		sq, err := f.Get(ctx)
		if err != nil {
			return nil, err // wraps the *temporal.ActivityError; errors.As finds the Python exception
		}
		sum += sq
	}
	prime, err := workflows.CallTool[bool](ctx, "math", "is_prime", map[string]any{"n": int(sum)},
		workflows.CallOptions{StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	if err != nil {
		return nil, err
	}
	return map[string]any{"sum": sum, "prime": prime}, nil
}

// docs:end

// The MapTool example of docs/pipelines.md, between the markers, verbatim.

// docs:maptool:begin
// SquareAll squares xs on the math pool, 100 items per activity, 4 activities at once.
func SquareAll(ctx workflow.Context, xs []float64) ([]float64, error) {
	items := make([]squareInput, len(xs))
	for i, x := range xs {
		items[i] = squareInput{X: x}
	}
	squares, err := workflows.MapTool[float64](ctx, "math", "square", items,
		workflows.MapOptions{BatchSize: 100, Concurrency: 4})
	var mapErr *workflows.MapError
	if errors.As(err, &mapErr) && mapErr.Item >= 0 {
		return nil, fmt.Errorf("x = %v: %w", xs[mapErr.Item], err)
	}
	return squares, err
}

// docs:maptool:end

// docsCode is the code of example_test.go between "// docs:<name>begin" and "// docs:<name>end".
func docsCode(t *testing.T, name string) string {
	t.Helper()
	source, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	_, rest, found := strings.Cut(string(source), "// docs:"+name+"begin\n")
	require.True(t, found)
	code, _, found := strings.Cut(rest, "\n// docs:"+name+"end")
	require.True(t, found)
	return code
}

func assertDocsShow(t *testing.T, code string) {
	t.Helper()
	docs, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "pipelines.md"))
	require.NoError(t, err)
	assert.Contains(t, string(docs), "```go\n"+code+"```\n", "docs/pipelines.md shows the example verbatim")
}

func TestDocsMapToolExample(t *testing.T) {
	env, rec := newPipelineEnv(t)
	env.RegisterWorkflow(SquareAll)
	xs := make([]float64, 250)
	for i := range xs {
		xs[i] = float64(i)
	}
	env.ExecuteWorkflow(SquareAll, xs)
	require.NoError(t, env.GetWorkflowError())
	var out []float64
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Len(t, out, 250)
	assert.InDelta(t, 249.0*249.0, out[249], 0)
	rec.mu.Lock()
	require.Len(t, rec.infos, 3, "3 batches: 100, 100 and 50 items")
	for _, info := range rec.infos {
		assert.Equal(t, workflows.BatchActivityName, info.ActivityType.Name)
	}
	rec.mu.Unlock()
	assertDocsShow(t, docsCode(t, "maptool:"))
}

func TestDocsGoExample(t *testing.T) {
	env, rec := newPipelineEnv(t)
	env.RegisterWorkflow(SumOfSquares)
	env.ExecuteWorkflow(SumOfSquares, []float64{1, 2, 4})
	require.NoError(t, env.GetWorkflowError())
	var out json.RawMessage
	require.NoError(t, env.GetWorkflowResult(&out))
	assert.JSONEq(t, `{"sum": 21, "prime": false}`, string(out))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.infos, 4)
	assert.Equal(t, time.Minute, rec.infos[3].StartToCloseTimeout)

	assertDocsShow(t, docsCode(t, ""))
}

package workflows_test

import (
	"encoding/json"
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

	source, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(source), "// docs:begin\n")
	code, _, _ := strings.Cut(rest, "\n// docs:end")
	docs, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "pipelines.md"))
	require.NoError(t, err)
	assert.Contains(t, string(docs), "```go\n"+code+"```\n", "docs/pipelines.md shows the example verbatim")
}

package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func TestFanOutReturnsResultsInItemOrderWithinTheWindow(t *testing.T) {
	tests := []struct {
		name   string
		items  int
		window int
	}{
		{"window smaller than the items", 25, 3},
		{"window of one", 5, 1},
		{"window larger than the items", 4, 10},
		{"no items", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv()
			var mu sync.Mutex
			running, most := 0, 0
			// Later items finish first, so that results arriving out of order must still land in order.
			env.RegisterActivityWithOptions(func(ctx context.Context, x int64) (int64, error) {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				time.Sleep(time.Duration(30-x) * time.Millisecond)
				mu.Lock()
				running--
				mu.Unlock()
				return x * x, nil
			}, activity.RegisterOptions{Name: "square"})
			env.RegisterWorkflowWithOptions(FanOut, workflow.RegisterOptions{Name: FanOutName})
			items := make([]int64, tt.items)
			for i := range items {
				items[i] = int64(i)
			}
			env.ExecuteWorkflow(FanOutName, FanOutInput{Activity: "square", Items: items, Window: tt.window})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			var got []int64
			require.NoError(t, env.GetWorkflowResult(&got))
			require.Len(t, got, tt.items)
			for i, v := range got {
				assert.Equal(t, int64(i*i), v, "item %d", i)
			}
			mu.Lock()
			defer mu.Unlock()
			assert.LessOrEqual(t, most, tt.window, "activities running at once")
		})
	}
}

func TestFanOutRefusesAnEmptyWindow(t *testing.T) {
	env := newTestEnv()
	env.RegisterWorkflowWithOptions(FanOut, workflow.RegisterOptions{Name: FanOutName})
	env.ExecuteWorkflow(FanOutName, FanOutInput{Activity: "square", Items: []int64{1}, Window: 0})
	require.Error(t, env.GetWorkflowError())
	assert.Contains(t, env.GetWorkflowError().Error(), "window at least 1")
}

// newTestEnv is a workflow test environment that logs warnings only.
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return suite.NewTestWorkflowEnvironment()
}

func TestRotateAlternatesTheFirst(t *testing.T) {
	xs := []int{1, 4, 8}
	assert.Equal(t, []int{1, 4, 8}, rotate(xs, 0))
	assert.Equal(t, []int{4, 8, 1}, rotate(xs, 1))
	assert.Equal(t, []int{1, 4, 8}, rotate(xs, 3))
	assert.Equal(t, []int{1, 4, 8}, xs, "rotate must not change its input")
}

func TestParseIntsNamesTheBadValue(t *testing.T) {
	got, err := parseInts("1, 4,8")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 4, 8}, got)
	_, err = parseInts("1,zero")
	assert.ErrorContains(t, err, `"zero"`)
	_, err = parseInts("0")
	assert.ErrorContains(t, err, "positive")
}

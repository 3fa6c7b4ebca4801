package worker_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

type fakePool struct{}

func (fakePool) Call(context.Context, pools.Call) (json.RawMessage, error) { return nil, nil }
func (fakePool) CallBatch(context.Context, pools.BatchCall) error          { return nil }
func (fakePool) Name() string                                              { return "fake" }
func (fakePool) Tools() []pools.ToolSpec {
	return []pools.ToolSpec{{Name: "b"}, {Name: "a"}}
}

// recordingRegistry records what is registered on it.
type recordingRegistry struct {
	names   []string
	dynamic int
}

func (r *recordingRegistry) RegisterActivityWithOptions(_ any, o activity.RegisterOptions) {
	r.names = append(r.names, o.Name)
}

func (r *recordingRegistry) RegisterDynamicActivity(any, activity.DynamicRegisterOptions) {
	r.dynamic++
}

func TestRegisterPoolLeavesUnknownTypesAlone(t *testing.T) {
	var r recordingRegistry
	tools := worker.RegisterPool(&r, fakePool{}, worker.RegisterOptions{})
	assert.Equal(t, []string{"a", "b"}, tools)
	assert.ElementsMatch(t, []string{"a", "b", activities.BatchActivityName}, r.names, "every tool, and the batch activity")
	assert.Zero(t, r.dynamic, "no catch-all by default")

	var catching recordingRegistry
	worker.RegisterPool(&catching, fakePool{}, worker.RegisterOptions{CatchUnknownTools: true})
	assert.Equal(t, 1, catching.dynamic, "the catch-all when asked for")
}

func TestNewPoolWorkerRefusesItsTunersOptions(t *testing.T) {
	for name, opts := range map[string]sdkworker.Options{
		"tuner":           {Tuner: must(sdkworker.NewFixedSizeTuner(sdkworker.FixedSizeTunerOptions{NumWorkflowSlots: 1, NumActivitySlots: 1, NumLocalActivitySlots: 1, NumNexusSlots: 1}))},
		"max activities":  {MaxConcurrentActivityExecutionSize: 3},
		"max wf tasks":    {MaxConcurrentWorkflowTaskExecutionSize: 3},
		"max local tasks": {MaxConcurrentLocalActivityExecutionSize: 3},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := worker.NewPoolWorker(nil, "q", &pools.Pool{}, opts, worker.RegisterOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "worker: NewPoolWorker")
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Package dedicatedthread_test runs the example of this directory (docs/examples.md).
package dedicatedthread_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/examplestest"
	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker/workertest"
)

// TestDedicatedThread runs pipeline.json on the example's thread pool: the moves run on several
// of the pool's threads at once, every database access runs on the one dedicated thread (sqlite3
// would raise ProgrammingError on any other), and the stock adds up.
func TestDedicatedThread(t *testing.T) {
	srv := workertest.StartDevServer(t, testenv.Temporal(t))
	_, cfg := examplestest.StartWorker(t, srv, "examples/dedicated-thread/snakepool.yaml")
	result := examplestest.RunPipeline(t, srv.Client(t), cfg.Temporal.TaskQueue, "examples/dedicated-thread/pipeline.json")
	require.Len(t, result.Results, 2)

	var moves []struct {
		Item       string `json:"item"`
		ToolThread string `json:"tool_thread"`
		DBThread   string `json:"db_thread"`
	}
	require.NoError(t, json.Unmarshal(result.Results[0].Result, &moves))
	require.Len(t, moves, 8)
	toolThreads := map[string]bool{}
	for _, m := range moves {
		assert.Equal(t, "snakepool-dedicated", m.DBThread, "the database work of %s", m.Item)
		assert.Regexp(t, `^snakepool-tool-\d$`, m.ToolThread)
		toolThreads[m.ToolThread] = true
	}
	assert.GreaterOrEqual(t, len(toolThreads), 2, "the tools ran on several of the pool's threads")

	var stock struct {
		Stock    map[string]int `json:"stock"`
		DBThread string         `json:"db_thread"`
	}
	require.NoError(t, json.Unmarshal(result.Results[1].Result, &stock))
	assert.Equal(t, map[string]int{"bolts": 75, "nuts": 40, "washers": 150}, stock.Stock)
	assert.Equal(t, "snakepool-dedicated", stock.DBThread)
}

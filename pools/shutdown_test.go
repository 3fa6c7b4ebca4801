package pools

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// TestStopDrains: Stop refuses new calls at once, lets the running ones finish, then stops.
func TestStopDrains(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	p := startPool(t, opts)
	started := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var once sync.Once
		_, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 0.5}`),
			OnHeartbeat: func(Heartbeat) { once.Do(func() { close(started) }) }})
		result <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(context.Background()) }()
	waitFor(t, p, 5*time.Second, "Stop to begin", func() bool { return p.Health().Closed })
	_, err := call(t, p, "noop", nil)
	require.ErrorIs(t, err, ErrPoolClosed)
	_, err = p.Reserve(context.Background())
	require.ErrorIs(t, err, ErrPoolClosed)
	require.NoError(t, <-result, "the running call finishes")
	require.NoError(t, <-stopped)
	assert.Empty(t, poolProcesses(opts.Name))
}

// TestStopDrainTimeout: calls still running after the drain timeout are interrupted with
// ErrPoolClosed, and every process still ends.
func TestStopDrainTimeout(t *testing.T) {
	opts := testOptions(t, testAdap, 1)
	opts.DrainTimeout = 200 * time.Millisecond
	opts.StopTimeout = time.Second
	p := startPool(t, opts)
	pid, _, done := blockingCall(t, p)
	err := p.Stop(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 calls still running")
	callErr := <-done
	require.ErrorIs(t, callErr, ErrPoolClosed)
	assert.True(t, processGone(pid))
	assert.Empty(t, poolProcesses(opts.Name))
}

// TestMetrics: the pool reports capacity, in-flight, utilisation, slot wait and call latency.
func TestMetrics(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 2)
	opts.Metrics = scope
	p := startPool(t, opts)
	for range 5 {
		_, err := call(t, p, "noop", nil)
		require.NoError(t, err)
	}
	_, cancel, done := blockingCall(t, p)
	snap := scope.Snapshot()
	gauges := map[string]float64{}
	for _, g := range snap.Gauges() {
		assert.Equal(t, opts.Name, g.Tags()["pool"])
		gauges[g.Name()] = g.Value()
	}
	assert.Equal(t, 2.0, gauges[metricCapacity])
	assert.Equal(t, 1.0, gauges[metricInFlight])
	assert.Equal(t, 1.0, gauges[metricAvailable])
	assert.Equal(t, 0.5, gauges[metricUtilisation])
	assert.Equal(t, 2.0, gauges[metricWorkers])
	var latencies int64
	for _, h := range snap.Histograms() {
		if h.Name() == metricCallLatency {
			for _, n := range h.Durations() {
				latencies += n
			}
		}
	}
	assert.Equal(t, int64(5), latencies)
	var waits int
	for _, tm := range snap.Timers() {
		if tm.Name() == metricSlotWait {
			waits += len(tm.Values())
		}
	}
	assert.GreaterOrEqual(t, waits, 6)
	cancel()
	<-done
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPythonLogsRelayed: Python logging records reach the pool's logger with their level and
// fields as attributes.
func TestPythonLogsRelayed(t *testing.T) {
	var buf syncBuffer
	opts := testOptions(t, testAdap, 1)
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := startPool(t, opts)
	_, err := call(t, p, "log", map[string]any{"message": "hello from python"})
	require.NoError(t, err)
	var rec map[string]any
	waitFor(t, p, 10*time.Second, "the log record", func() bool {
		for _, line := range strings.Split(buf.String(), "\n") {
			if strings.Contains(line, "hello from python") {
				require.NoError(t, json.Unmarshal([]byte(line), &rec))
				return true
			}
		}
		return false
	})
	assert.Equal(t, "WARN", rec["level"])
	assert.Equal(t, "hello from python", rec["msg"])
	assert.Equal(t, "pooltest", rec["logger"])
	assert.Equal(t, opts.Name, rec["pool"])
	assert.NotEmpty(t, rec["worker"])
	assert.NotEmpty(t, rec["thread"])
	assert.NotEmpty(t, rec["call_id"])
}

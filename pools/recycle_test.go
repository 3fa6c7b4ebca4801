package pools

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

// TestRecycleByMemory: a tool that keeps memory pushes the worker's resident memory (read from
// /proc) over the limit; the worker is recycled and no call fails.
func TestRecycleByMemory(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.MemoryCheckInterval = 50 * time.Millisecond
	opts.RecycleJitter = -1
	opts.Metrics = scope
	// The limit: the idle worker's memory plus 60 MiB.
	probe := startPool(t, func() Options { o := opts; o.Name = uniqueName(t) + "_probe"; return o }())
	base, err := residentMemory(workerPIDs(probe)[0])
	require.NoError(t, err)
	require.NoError(t, probe.Stop(context.Background()))
	opts.MaxWorkerMemory = base + 60<<20
	p := startPool(t, opts)
	first := workerPIDs(p)[0]

	for i := range 12 {
		_, err := call(t, p, "grow", map[string]any{"mb": 20})
		require.NoError(t, err, "call %d", i)
	}
	waitFor(t, p, 20*time.Second, "a memory recycle", func() bool {
		return counterValue(scope, metricRecycles, map[string]string{"reason": "memory"}) >= 1
	})
	assert.NotEqual(t, first, workerPIDs(p)[0])
	waitGone(t, []int{first}, 10*time.Second)
	// The memory gauge was reported.
	found := false
	for _, g := range scope.Snapshot().Gauges() {
		if g.Name() == metricWorkerMemory && g.Value() > 0 {
			found = true
		}
	}
	assert.True(t, found, "no %s gauge", metricWorkerMemory)
}

// TestRecycleUnderLoad: recycling by request count under load: the replacement starts before the
// old worker drains, so Available() never drops below capacity minus the calls in use; no call
// fails.
func TestRecycleUnderLoad(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 3)
	opts.MaxRequestsPerWorker = 15
	opts.Metrics = scope
	p := startPool(t, opts)

	stopSampling := make(chan struct{})
	var violations []Stats
	var samples int
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			ch := p.AvailableChanged()
			st := p.Stats()
			samples++
			if st.Available+st.InFlight+st.Reserved < st.Capacity {
				violations = append(violations, st)
			}
			select {
			case <-ch:
			case <-stopSampling:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	stopCalls := make(chan struct{})
	errs := make(chan error, 10000)
	var calls atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopCalls:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 0.005, "every": 0.01}`)})
				cancel()
				calls.Add(1)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	// Calls go on until every worker has been recycled at least once on average.
	waitFor(t, p, 60*time.Second, "4 recycles", func() bool {
		return counterValue(scope, metricRecycles, map[string]string{"reason": "requests"}) >= 4
	})
	close(stopCalls)
	wg.Wait()
	close(stopSampling)
	sampler.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call failed during recycling: %v", err)
	}
	t.Logf("%d calls, %d recycles, %d samples", calls.Load(),
		counterValue(scope, metricRecycles, map[string]string{"reason": "requests"}), samples)
	assert.Empty(t, violations, "Available() dipped below capacity minus the calls in use")
	waitFor(t, p, 20*time.Second, "the drained workers to stop", func() bool { return p.Stats().Workers == 3 })
	assert.Equal(t, 3, p.Available())
}

// TestRecycleByTTL: a worker past its TTL is recycled.
func TestRecycleByTTL(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.MaxWorkerTTL = 500 * time.Millisecond
	opts.Metrics = scope
	p := startPool(t, opts)
	first := workerPIDs(p)[0]
	waitFor(t, p, 20*time.Second, "a TTL recycle", func() bool {
		pids := workerPIDs(p)
		return len(pids) == 1 && pids[0] != first
	})
	assert.GreaterOrEqual(t, counterValue(scope, metricRecycles, map[string]string{"reason": "ttl"}), int64(1))
	waitGone(t, []int{first}, 10*time.Second)
	_, err := call(t, p, "noop", nil)
	require.NoError(t, err)
}

package pools

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockingCall starts a `sleep` call that runs until its context is cancelled (or 60s). It
// returns once the tool has sent its first heartbeat, with the worker's pid, a cancel function and
// a channel receiving the call's error.
func blockingCall(t *testing.T, p *Pool) (pid int, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	first := make(chan int, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Call(ctx, Call{Tool: "sleep", Args: json.RawMessage(`{"seconds": 60}`),
			OnHeartbeat: func(hb Heartbeat) {
				var d struct{ PID int }
				_ = json.Unmarshal(hb.Details, &d)
				select {
				case first <- d.PID:
				default:
				}
			}})
		errc <- err
	}()
	select {
	case pid = <-first:
	case err := <-errc:
		cancel()
		t.Fatalf("blocking call ended early: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("blocking call sent no heartbeat within 20s")
	}
	return pid, cancel, errc
}

// TestCapacityAndWaiting: the thread profile's capacity is size * threads_per_worker; Available
// follows the running calls; a call waits while the pool is full and gives up with its context.
func TestCapacityAndWaiting(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	opts.Profile = ProfileThread
	opts.ThreadsPerWorker = 3
	opts.CancelGrace = 5 * time.Second
	p := startPool(t, opts)
	require.Equal(t, 6, p.Capacity())
	require.Equal(t, 6, p.Available())
	info := p.Interpreter()
	assert.Equal(t, "thread", info.Mode)
	assert.Equal(t, 3, info.MaxWorkers)

	var cancels []context.CancelFunc
	var dones []<-chan error
	for i := range 6 {
		_, cancel, done := blockingCall(t, p)
		cancels = append(cancels, cancel)
		dones = append(dones, done)
		assert.Equal(t, 6-i-1, p.Available())
	}
	st := p.Stats()
	assert.Equal(t, Stats{Capacity: 6, Available: 0, InFlight: 6, Reserved: 0, Workers: 2}, st)

	// Full: a call waits, and gives up when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, Call{Tool: "noop"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, ok := p.TryReserve()
	assert.False(t, ok)

	// A waiting call starts as soon as a slot frees.
	waiting := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := p.Call(ctx, Call{Tool: "noop"})
		waiting <- err
	}()
	cancels[0]()
	require.ErrorIs(t, <-dones[0], context.Canceled)
	require.NoError(t, <-waiting)

	for i := 1; i < 6; i++ {
		cancels[i]()
		require.ErrorIs(t, <-dones[i], context.Canceled)
	}
	waitFor(t, p, 10*time.Second, "all slots free", func() bool { return p.Available() == 6 })
}

// TestLeastLoadedRouting: calls go to the least-loaded worker: 4 calls on 2 workers of 4
// threads run 2 and 2.
func TestLeastLoadedRouting(t *testing.T) {
	opts := testOptions(t, testAdap, 2)
	opts.Profile = ProfileThread
	opts.ThreadsPerWorker = 4
	p := startPool(t, opts)
	perPID := map[int]int{}
	var cancels []context.CancelFunc
	var dones []<-chan error
	for range 4 {
		pid, cancel, done := blockingCall(t, p)
		perPID[pid]++
		cancels = append(cancels, cancel)
		dones = append(dones, done)
	}
	assert.Len(t, perPID, 2, "calls per worker pid: %v", perPID)
	for pid, n := range perPID {
		assert.Equal(t, 2, n, "worker %d runs %d calls: %v", pid, n, perPID)
	}
	for i, c := range cancels {
		c()
		<-dones[i]
	}
}

// TestLeases: the reservation API of the slot supplier: TryReserve/Reserve take slots, Release
// returns an unused one (idempotently), a lease runs one call, AvailableChanged fires.
func TestLeases(t *testing.T) {
	p := startPool(t, testOptions(t, testAdap, 2))
	ch := p.AvailableChanged()
	l1, ok := p.TryReserve()
	require.True(t, ok)
	select {
	case <-ch:
	default:
		t.Fatal("AvailableChanged did not fire on TryReserve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l2, err := p.Reserve(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, p.Available())
	_, ok = p.TryReserve()
	assert.False(t, ok)

	// Reserve waits for a release.
	got := make(chan *Lease, 1)
	go func() {
		l, err := p.Reserve(ctx)
		assert.NoError(t, err)
		got <- l
	}()
	l1.Release()
	l1.Release() // idempotent
	l3 := <-got
	assert.Equal(t, 0, p.Available())

	res, err := l2.Call(ctx, Call{Tool: "square", Args: json.RawMessage(`{"x": 5}`)})
	require.NoError(t, err)
	assert.JSONEq(t, "25", string(res))
	_, err = l2.Call(ctx, Call{Tool: "noop"})
	require.Error(t, err, "a lease runs one call")
	_, err = l1.Call(ctx, Call{Tool: "noop"})
	require.Error(t, err, "a released lease runs no call")
	l2.Release() // no-op after Call
	assert.Equal(t, 1, p.Available())
	l3.Release()
	assert.Equal(t, 2, p.Available())
	assert.Equal(t, Stats{Capacity: 2, Available: 2, Workers: 2}, p.Stats())
}

// TestHeartbeats: heartbeats reach OnHeartbeat in order, with details and progress.
func TestHeartbeats(t *testing.T) {
	p := startPool(t, testOptions(t, testAdap, 1))
	var beats []Heartbeat
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Call(ctx, Call{Tool: "heartbeats", Args: json.RawMessage(`{"n": 5}`),
		OnHeartbeat: func(hb Heartbeat) { beats = append(beats, hb) }})
	require.NoError(t, err)
	assert.JSONEq(t, "5", string(res))
	require.Len(t, beats, 5)
	for i, hb := range beats {
		assert.JSONEq(t, `{"i": `+string(rune('0'+i))+`}`, string(hb.Details))
		assert.InDelta(t, float64(i+1)/5, hb.Progress, 1e-9)
	}
}

// TestSeveralPools: pools with different adapters (and interpreters) run side by side.
func TestSeveralPools(t *testing.T) {
	a := startPool(t, testOptions(t, showcase, 1))
	bOpts := testOptions(t, testAdap, 2)
	bOpts.Profile = ProfileThread
	bOpts.ThreadsPerWorker = 2
	b := startPool(t, bOpts)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, tool, args := a, "is_prime", map[string]any{"n": 7}
			if i%2 == 1 {
				pool, tool, args = b, "square", map[string]any{"x": 7}
			}
			_, err := call(t, pool, tool, args)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	_, err := call(t, a, "grow", map[string]any{"mb": 1})
	var te *ToolError
	require.ErrorAs(t, err, &te, "the showcase adapter has no grow tool")
	assert.Equal(t, "ToolNotFound", te.Type)
	assert.NotEqual(t, a.Name(), b.Name())
}

// TestStartupBatches: workers start in batches of startup_batch_size, startup_batch_delay apart.
func TestStartupBatches(t *testing.T) {
	opts := testOptions(t, testAdap, 4)
	opts.StartupBatchSize = 2
	opts.StartupBatchDelay = 300 * time.Millisecond
	p := startPool(t, opts)
	p.mu.Lock()
	bySlot := map[int]time.Time{}
	for _, w := range p.workers {
		bySlot[w.slot] = w.spawnedAt
	}
	readyBySlot := map[int]time.Time{}
	for _, w := range p.workers {
		readyBySlot[w.slot] = w.startedAt
	}
	p.mu.Unlock()
	require.Len(t, bySlot, 4)
	firstBatchReady := readyBySlot[0]
	if readyBySlot[1].After(firstBatchReady) {
		firstBatchReady = readyBySlot[1]
	}
	for _, slot := range []int{2, 3} {
		assert.GreaterOrEqual(t, bySlot[slot].Sub(firstBatchReady), opts.StartupBatchDelay,
			"slot %d was spawned before the first batch was ready plus the delay", slot)
	}
	assert.Less(t, bySlot[1].Sub(bySlot[0]).Abs(), opts.StartupBatchDelay, "slots 0 and 1 start together")
}

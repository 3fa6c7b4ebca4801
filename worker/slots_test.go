package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

// fakeCapacity is a CapacitySource whose stats the test sets.
type fakeCapacity struct {
	mu      sync.Mutex
	stats   pools.Stats
	changed chan struct{}
}

func newFakeCapacity(stats pools.Stats) *fakeCapacity {
	return &fakeCapacity{stats: stats, changed: make(chan struct{})}
}

func (f *fakeCapacity) Capacity() int { return f.Stats().Capacity }

func (f *fakeCapacity) Stats() pools.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakeCapacity) AvailableChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fakeCapacity) set(stats pools.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = stats
	close(f.changed)
	f.changed = make(chan struct{})
}

func TestPoolSlotSupplierIssuesUpToLiveCapacity(t *testing.T) {
	tests := []struct {
		name   string
		stats  pools.Stats
		issued int // slots issued before the one tried
		want   bool
	}{
		{"idle pool, first slot", pools.Stats{Capacity: 2, Available: 2}, 0, true},
		{"idle pool, last slot", pools.Stats{Capacity: 2, Available: 2}, 1, true},
		{"idle pool, all slots issued", pools.Stats{Capacity: 2, Available: 2}, 2, false},
		{"a worker restarting", pools.Stats{Capacity: 2, Available: 1}, 1, false},
		{"a worker restarting, its sibling free", pools.Stats{Capacity: 2, Available: 1}, 0, true},
		{"every worker down", pools.Stats{Capacity: 2}, 0, false},
		{"busy pool", pools.Stats{Capacity: 2, InFlight: 2}, 2, false},
		{"one call running, one slot free", pools.Stats{Capacity: 2, InFlight: 1, Available: 1}, 1, true},
		{"a recycled worker draining beside its replacement", pools.Stats{Capacity: 1, InFlight: 1, Available: 1}, 1, true},
		{"stopping pool", pools.Stats{Capacity: 2, InFlight: 1}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := withStats(t, tt.stats, tt.issued)
			got := s.TryReserveSlot(nil)
			assert.Equal(t, tt.want, got != nil)
			assert.Equal(t, tt.stats.Capacity, s.MaxSlots())
		})
	}
}

// withStats returns a supplier that has issued slots, over a pool whose stats are now stats.
func withStats(t *testing.T, stats pools.Stats, issued int) *worker.PoolSlotSupplier {
	t.Helper()
	src := newFakeCapacity(pools.Stats{Capacity: stats.Capacity, Available: issued})
	s := worker.NewPoolSlotSupplier(src)
	for range issued {
		require.NotNil(t, s.TryReserveSlot(nil))
	}
	src.set(stats)
	require.Equal(t, issued, s.Issued())
	return s
}

// reserveAsync runs ReserveSlot in a goroutine; the channel gets its result.
func reserveAsync(ctx context.Context, s *worker.PoolSlotSupplier) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.ReserveSlot(ctx, nil)
		done <- err
	}()
	return done
}

// assertBlocked checks that ReserveSlot has not returned within a short window.
func assertBlocked(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("ReserveSlot returned (%v) while the pool had no capacity", err)
	case <-time.After(100 * time.Millisecond):
	}
}

func assertReturns(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("ReserveSlot did not return within 5s")
		return nil
	}
}

func TestReserveSlotWaitsForAWorker(t *testing.T) {
	src := newFakeCapacity(pools.Stats{Capacity: 1}) // its only worker is restarting
	s := worker.NewPoolSlotSupplier(src)
	done := reserveAsync(context.Background(), s)
	assertBlocked(t, done)
	src.set(pools.Stats{Capacity: 1, Available: 1}) // the replacement is ready
	require.NoError(t, assertReturns(t, done))
	assert.Equal(t, 1, s.Issued())
}

func TestReserveSlotWaitsForARelease(t *testing.T) {
	src := newFakeCapacity(pools.Stats{Capacity: 1, Available: 1})
	s := worker.NewPoolSlotSupplier(src)
	permit, err := s.ReserveSlot(context.Background(), nil)
	require.NoError(t, err)
	require.NotNil(t, permit)
	done := reserveAsync(context.Background(), s)
	assertBlocked(t, done)
	s.ReleaseSlot(nil)
	require.NoError(t, assertReturns(t, done))
	assert.Equal(t, 1, s.Issued())
}

func TestReserveSlotHonoursItsContext(t *testing.T) {
	s := worker.NewPoolSlotSupplier(newFakeCapacity(pools.Stats{Capacity: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	done := reserveAsync(ctx, s)
	assertBlocked(t, done)
	cancel()
	// The SDK retries any error but context.Canceled, which it expects on shutdown.
	require.ErrorIs(t, assertReturns(t, done), context.Canceled)
	assert.Equal(t, 0, s.Issued())
}

func TestNewPoolTuner(t *testing.T) {
	src := newFakeCapacity(pools.Stats{Capacity: 3, Available: 3})
	tuner, slots, err := worker.NewPoolTuner(src)
	require.NoError(t, err)
	assert.Same(t, slots, tuner.GetActivityTaskSlotSupplier())
	assert.Equal(t, 3, tuner.GetActivityTaskSlotSupplier().MaxSlots())
	for _, s := range []sdkworker.SlotSupplier{tuner.GetWorkflowTaskSlotSupplier(), tuner.GetLocalActivitySlotSupplier(), tuner.GetNexusSlotSupplier()} {
		require.NotNil(t, s)
		assert.Positive(t, s.MaxSlots())
	}
}

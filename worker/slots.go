package worker

import (
	"context"
	"fmt"
	"sync"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/snakepool/snakepool/pools"
)

// CapacitySource is what a PoolSlotSupplier needs of a pool; *pools.Pool implements it.
type CapacitySource interface {
	// Capacity is the number of calls the pool runs at once with all its workers up.
	Capacity() int
	// Stats is a snapshot of the pool's slot counts.
	Stats() pools.Stats
	// AvailableChanged is closed the next time the slot counts may have changed.
	AvailableChanged() <-chan struct{}
}

// LiveCapacity is the number of calls a pool can run at once now: the calls running plus the free
// slots of its ready workers. It is lower than the pool's Capacity while a crashed or killed
// worker is being replaced, 0 once the pool is stopping (apart from the calls still draining),
// and briefly higher while a recycled worker finishes its last calls beside its replacement.
func LiveCapacity(s pools.Stats) int { return s.InFlight + s.Available }

// PoolSlotSupplier is a Temporal activity SlotSupplier tied to a pool's live capacity: it issues a
// slot only while fewer slots are issued than the pool's LiveCapacity, so the pool's Temporal
// worker polls for a task only when a Python worker can start it at once. A pool that is short of
// workers (one crashed and is restarting) then leaves its tasks to the other workers of the task
// queue instead of queueing them. Use it through NewPoolTuner.
//
// A slot issued before a worker died cannot be taken back: the task it receives (if any) waits in
// pools.Pool.Call for the replacement.
type PoolSlotSupplier struct {
	pool CapacitySource

	mu     sync.Mutex
	issued int
	// released is closed and replaced whenever a slot is released.
	released chan struct{}
}

var _ sdkworker.SlotSupplier = (*PoolSlotSupplier)(nil)

// NewPoolSlotSupplier returns the slot supplier of pool.
func NewPoolSlotSupplier(pool CapacitySource) *PoolSlotSupplier {
	return &PoolSlotSupplier{pool: pool, released: make(chan struct{})}
}

// ReserveSlot waits until the pool can take one more call than the slots already issued, then
// issues a slot. It returns an error wrapping ctx.Err() when ctx ends first.
func (s *PoolSlotSupplier) ReserveSlot(ctx context.Context, _ sdkworker.SlotReservationInfo) (*sdkworker.SlotPermit, error) {
	for {
		// Take the change channel before reading the counts, so that no change is missed.
		changed := s.pool.AvailableChanged()
		permit, released := s.tryReserve()
		if permit != nil {
			return permit, nil
		}
		select {
		case <-changed:
		case <-released:
		case <-ctx.Done():
			return nil, fmt.Errorf("worker: reserve an activity slot: %w", ctx.Err())
		}
	}
}

// TryReserveSlot issues a slot if the pool can take one more call now, or returns nil.
func (s *PoolSlotSupplier) TryReserveSlot(sdkworker.SlotReservationInfo) *sdkworker.SlotPermit {
	permit, _ := s.tryReserve()
	return permit
}

// tryReserve issues a slot, or returns the channel closed at the next release.
func (s *PoolSlotSupplier) tryReserve() (*sdkworker.SlotPermit, <-chan struct{}) {
	live := LiveCapacity(s.pool.Stats())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issued < live {
		s.issued++
		return &sdkworker.SlotPermit{}, nil
	}
	return nil, s.released
}

// MarkSlotUsed does nothing: a slot counts from its reservation, used or not.
func (s *PoolSlotSupplier) MarkSlotUsed(sdkworker.SlotMarkUsedInfo) {}

// ReleaseSlot takes back a slot.
func (s *PoolSlotSupplier) ReleaseSlot(sdkworker.SlotReleaseInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued--
	close(s.released)
	s.released = make(chan struct{})
}

// MaxSlots is the pool's Capacity. (While a recycled worker finishes its last calls beside its
// replacement, the supplier may issue a few more, for the replacement's free slots.)
func (s *PoolSlotSupplier) MaxSlots() int { return s.pool.Capacity() }

// Issued returns the number of slots issued and not released.
func (s *PoolSlotSupplier) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Fixed slot counts of the tuner's other suppliers: a pool's Temporal worker runs no workflows,
// local activities or Nexus operations, so these only need to be valid.
const fixedSlots = 100

// NewPoolTuner returns the Temporal worker tuner of a pool's worker: activity slots from a
// PoolSlotSupplier of pool (also for session activities), fixed-size suppliers for the rest.
func NewPoolTuner(pool CapacitySource) (sdkworker.WorkerTuner, *PoolSlotSupplier, error) {
	activitySlots := NewPoolSlotSupplier(pool)
	var fixed [3]sdkworker.SlotSupplier
	for i := range fixed {
		s, err := sdkworker.NewFixedSizeSlotSupplier(fixedSlots)
		if err != nil {
			return nil, nil, fmt.Errorf("worker: fixed slot supplier: %w", err)
		}
		fixed[i] = s
	}
	tuner, err := sdkworker.NewCompositeTuner(sdkworker.CompositeTunerOptions{
		WorkflowSlotSupplier:        fixed[0],
		ActivitySlotSupplier:        activitySlots,
		LocalActivitySlotSupplier:   fixed[1],
		NexusSlotSupplier:           fixed[2],
		SessionActivitySlotSupplier: activitySlots,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("worker: composite tuner: %w", err)
	}
	return tuner, activitySlots, nil
}

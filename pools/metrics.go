package pools

import (
	"strconv"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"
)

// Metric names, all on the pool's scope tagged pool=NAME.
const (
	metricCapacity           = "pool_capacity"             // gauge: Size * ThreadsPerWorker
	metricAvailable          = "pool_available"            // gauge: free slots now
	metricInFlight           = "pool_in_flight"            // gauge: calls running
	metricUtilisation        = "pool_utilisation"          // gauge: in-flight / capacity
	metricWorkers            = "pool_workers"              // gauge: live Python processes
	metricSlotWait           = "pool_slot_wait"            // timer: wait for a free slot
	metricCallLatency        = "pool_call_latency"         // histogram: call round trip
	metricRestarts           = "pool_worker_restarts"      // counter, tag reason
	metricRecycles           = "pool_worker_recycles"      // counter, tag reason
	metricMissedHealthChecks = "pool_missed_health_checks" // counter
	metricWorkerMemory       = "pool_worker_memory_bytes"  // gauge, tag slot: resident memory
	metricWorkerDevice       = "pool_worker_device"        // gauge 1, tags slot and device: Options.Devices
)

// callLatencyBuckets span a no-op round trip (tens of microseconds) to long jobs (an hour).
var callLatencyBuckets = tally.MustMakeExponentialDurationBuckets(50*time.Microsecond, 2, 27)

type poolMetrics struct {
	scope              tally.Scope
	capacity           tally.Gauge
	available          tally.Gauge
	inFlight           tally.Gauge
	utilisation        tally.Gauge
	workers            tally.Gauge
	slotWait           tally.Timer
	callLatency        tally.Histogram
	missedHealthChecks tally.Counter

	mu     sync.Mutex
	memory map[int]tally.Gauge
}

func newPoolMetrics(scope tally.Scope, name string, capacity int) *poolMetrics {
	s := scope.Tagged(map[string]string{"pool": name})
	m := &poolMetrics{
		scope:              s,
		capacity:           s.Gauge(metricCapacity),
		available:          s.Gauge(metricAvailable),
		inFlight:           s.Gauge(metricInFlight),
		utilisation:        s.Gauge(metricUtilisation),
		workers:            s.Gauge(metricWorkers),
		slotWait:           s.Timer(metricSlotWait),
		callLatency:        s.Histogram(metricCallLatency, callLatencyBuckets),
		missedHealthChecks: s.Counter(metricMissedHealthChecks),
		memory:             map[int]tally.Gauge{},
	}
	m.capacity.Update(float64(capacity))
	return m
}

func (m *poolMetrics) restart(reason string) {
	m.scope.Tagged(map[string]string{"reason": reason}).Counter(metricRestarts).Inc(1)
}

func (m *poolMetrics) recycle(reason string) {
	m.scope.Tagged(map[string]string{"reason": reason}).Counter(metricRecycles).Inc(1)
}

func (m *poolMetrics) workerMemory(slot int) tally.Gauge {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.memory[slot]
	if !ok {
		g = m.scope.Tagged(map[string]string{"slot": strconv.Itoa(slot)}).Gauge(metricWorkerMemory)
		m.memory[slot] = g
	}
	return g
}

// workerDevice records which device a worker slot has (an info metric: always 1).
func (m *poolMetrics) workerDevice(slot int, device string) {
	m.scope.Tagged(map[string]string{"slot": strconv.Itoa(slot), "device": device}).Gauge(metricWorkerDevice).Update(1)
}

// updateGaugesLocked reports the slot counts. Under p.mu.
func (p *Pool) updateGaugesLocked() {
	m := p.metrics
	c := p.opts.capacity()
	m.available.Update(float64(p.availableLocked()))
	m.inFlight.Update(float64(p.inflight))
	m.utilisation.Update(float64(p.inflight) / float64(c))
	m.workers.Update(float64(len(p.workers)))
}

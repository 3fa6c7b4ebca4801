package worker

import (
	"encoding/json"
	"net/http"
)

// PoolStatus is the state of one pool, as /healthz shows it.
type PoolStatus struct {
	Name      string `json:"name"`
	TaskQueue string `json:"task_queue"`
	// Healthy is false when the pool is Degraded (in a crash loop and short of workers) or Closed
	// (stopping).
	Healthy  bool `json:"healthy"`
	Degraded bool `json:"degraded"`
	Closed   bool `json:"closed"`
	// Ready is true when the pool can run calls: it is not closed and its LiveCapacity is above 0.
	// NewHealth fills it in.
	Ready bool `json:"ready"`
	// Workers is the number of Python processes taking calls, Size the number wanted, Starting the
	// number of replacements being started.
	Workers  int `json:"workers"`
	Size     int `json:"size"`
	Starting int `json:"starting"`
	// Capacity is the calls the pool runs at once with all its processes up; LiveCapacity the
	// calls it can run now (see LiveCapacity); InFlight the calls running; Available the free slots.
	Capacity     int `json:"capacity"`
	LiveCapacity int `json:"live_capacity"`
	InFlight     int `json:"in_flight"`
	Available    int `json:"available"`
	// SlotsIssued is the number of activity slots the pool's Temporal worker holds (polls waiting
	// for a task, and tasks running).
	SlotsIssued int `json:"slots_issued"`
	// Devices is the device of each worker slot, by slot (pool option devices), and DeviceEnv the
	// variable that carries it; both empty without devices.
	Devices   []string `json:"devices,omitempty"`
	DeviceEnv string   `json:"device_env,omitempty"`
	// LastError is the pool's last failure (a crash, a failed start), or empty.
	LastError string `json:"last_error,omitempty"`
}

// States of a worker in Health.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
	// StateStopped: Stop has returned (cmd/worker is about to exit).
	StateStopped = "stopped"
)

// Health is the body of /healthz, /livez and /readyz.
type Health struct {
	// Live is true while the worker process serves: starting, running, or stopping (its running
	// activities may still finish; a liveness probe must not kill it then). /livez answers 200
	// when it is true.
	Live bool `json:"live"`
	// Ready is true when the worker is running and every pool is ready (live capacity above 0):
	// it can take work. /readyz and /healthz answer 200 when it is true.
	Ready bool `json:"ready"`
	// Healthy is true when the worker is running and every pool is healthy (none degraded or
	// closed).
	Healthy bool `json:"healthy"`
	// State is StateStarting, StateRunning, StateStopping or StateStopped.
	State string       `json:"state"`
	Pools []PoolStatus `json:"pools"`
}

// NewHealth returns the Health of a worker in state with pools, Live, Ready, Healthy and each
// pool's Ready filled in.
func NewHealth(state string, pools []PoolStatus) Health {
	running := state == StateRunning
	h := Health{
		Live:    state == StateStarting || state == StateRunning || state == StateStopping,
		Ready:   running,
		Healthy: running,
		State:   state,
		Pools:   append([]PoolStatus(nil), pools...),
	}
	for i := range h.Pools {
		p := &h.Pools[i]
		p.Ready = !p.Closed && p.LiveCapacity > 0
		h.Ready = h.Ready && p.Ready
		h.Healthy = h.Healthy && p.Healthy
	}
	return h
}

// NewHealthHandler returns the /healthz handler: it answers 200 with the Health JSON when the
// worker is Ready, and 503 with the same JSON otherwise.
func NewHealthHandler(health func() Health) http.Handler {
	return probeHandler(health, func(h Health) bool { return h.Ready })
}

// NewReadinessHandler returns the /readyz handler: 200 when the worker is Ready (running, and
// every pool has live capacity), 503 otherwise; the body is the Health JSON.
func NewReadinessHandler(health func() Health) http.Handler {
	return probeHandler(health, func(h Health) bool { return h.Ready })
}

// NewLivenessHandler returns the /livez handler: 200 while the worker is Live (starting, running
// or stopping), 503 otherwise; the body is the Health JSON. A crash-looping pool does not make
// the worker not live: the other pools still serve.
func NewLivenessHandler(health func() Health) http.Handler {
	return probeHandler(health, func(h Health) bool { return h.Live })
}

func probeHandler(health func() Health, ok func(Health) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := health()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !ok(h) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

package worker

import (
	"encoding/json"
	"net/http"
)

// PoolStatus is the state of one pool, as /healthz shows it.
type PoolStatus struct {
	Name      string `json:"name"`
	TaskQueue string `json:"task_queue"`
	// Healthy is false when the pool is Degraded (in a crash loop) or Closed (stopping).
	Healthy  bool `json:"healthy"`
	Degraded bool `json:"degraded"`
	Closed   bool `json:"closed"`
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
)

// Health is the body of /healthz.
type Health struct {
	// Healthy is true when the worker is running and every pool is healthy.
	Healthy bool `json:"healthy"`
	// State is StateStarting, StateRunning or StateStopping.
	State string       `json:"state"`
	Pools []PoolStatus `json:"pools"`
}

// NewHealth returns the Health of a worker in state with pools, Healthy filled in.
func NewHealth(state string, pools []PoolStatus) Health {
	h := Health{Healthy: state == StateRunning, State: state, Pools: pools}
	for _, p := range pools {
		h.Healthy = h.Healthy && p.Healthy
	}
	return h
}

// NewHealthHandler returns the /healthz handler: it answers 200 with the Health JSON when it is
// Healthy, and 503 with the same JSON otherwise.
func NewHealthHandler(health func() Health) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := health()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}

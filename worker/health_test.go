package worker_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/worker"
)

func TestHealthHandlers(t *testing.T) {
	healthy := worker.PoolStatus{Name: "math", Healthy: true, Workers: 2, Size: 2, Capacity: 2, LiveCapacity: 2, Available: 2}
	// In a crash loop, one worker of two still serving: degraded but ready.
	degraded := worker.PoolStatus{Name: "ml", Degraded: true, Workers: 1, Size: 2, Starting: 1, Capacity: 2, LiveCapacity: 1,
		LastError: "python worker ml-7 crashed"}
	// No worker left: not ready.
	down := worker.PoolStatus{Name: "gpu", Degraded: true, Size: 1, Starting: 1, Capacity: 1, LastError: "python worker gpu-3 crashed"}
	closed := worker.PoolStatus{Name: "io", Closed: true, Workers: 1, Size: 1, Capacity: 1, LiveCapacity: 1}
	tests := []struct {
		name                string
		state               string
		pools               []worker.PoolStatus
		live, ready, health bool
	}{
		{"running, every pool healthy", worker.StateRunning, []worker.PoolStatus{healthy}, true, true, true},
		{"a degraded pool that still has capacity", worker.StateRunning, []worker.PoolStatus{healthy, degraded}, true, true, false},
		{"a pool without capacity", worker.StateRunning, []worker.PoolStatus{healthy, down}, true, false, false},
		{"a closed pool", worker.StateRunning, []worker.PoolStatus{closed}, true, false, false},
		{"starting", worker.StateStarting, nil, true, false, false},
		{"stopping", worker.StateStopping, []worker.PoolStatus{healthy}, true, false, false},
		{"stopped", worker.StateStopped, nil, false, false, false},
	}
	code := func(ok bool) int {
		if ok {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			health := func() worker.Health { return worker.NewHealth(tt.state, tt.pools) }
			for _, probe := range []struct {
				path    string
				handler http.Handler
				want    int
			}{
				{"/healthz", worker.NewHealthHandler(health), code(tt.ready)},
				{"/readyz", worker.NewReadinessHandler(health), code(tt.ready)},
				{"/livez", worker.NewLivenessHandler(health), code(tt.live)},
			} {
				rec := httptest.NewRecorder()
				probe.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, probe.path, nil))
				assert.Equal(t, probe.want, rec.Code, probe.path)
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				var got worker.Health
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
				assert.Equal(t, tt.live, got.Live, "live")
				assert.Equal(t, tt.ready, got.Ready, "ready")
				assert.Equal(t, tt.health, got.Healthy, "healthy")
				assert.Equal(t, tt.state, got.State)
				require.Len(t, got.Pools, len(tt.pools))
				for i, p := range got.Pools {
					assert.Equal(t, tt.pools[i].Name, p.Name)
					assert.Equal(t, !p.Closed && p.LiveCapacity > 0, p.Ready, "pool %s ready", p.Name)
				}
			}
		})
	}
}

func TestHealthHandlerJSON(t *testing.T) {
	h := worker.NewHealthHandler(func() worker.Health {
		return worker.NewHealth(worker.StateRunning, []worker.PoolStatus{{Name: "ml", Degraded: true, LastError: "boom"}})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.JSONEq(t, `{"live": true, "ready": false, "healthy": false, "state": "running", "pools": [{"name": "ml",
		"task_queue": "", "healthy": false, "degraded": true, "closed": false, "ready": false, "workers": 0, "size": 0,
		"starting": 0, "capacity": 0, "live_capacity": 0, "in_flight": 0, "available": 0, "slots_issued": 0,
		"last_error": "boom"}]}`, rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

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

func TestHealthHandler(t *testing.T) {
	healthy := worker.PoolStatus{Name: "math", Healthy: true, Workers: 2, Size: 2, Capacity: 2, LiveCapacity: 2, Available: 2}
	degraded := worker.PoolStatus{Name: "ml", Degraded: true, Size: 1, Starting: 1, Capacity: 1, LastError: "python worker ml-7 crashed"}
	closed := worker.PoolStatus{Name: "io", Closed: true}
	tests := []struct {
		name        string
		state       string
		pools       []worker.PoolStatus
		wantCode    int
		wantHealthy bool
	}{
		{"running, every pool healthy", worker.StateRunning, []worker.PoolStatus{healthy}, http.StatusOK, true},
		{"a degraded pool", worker.StateRunning, []worker.PoolStatus{healthy, degraded}, http.StatusServiceUnavailable, false},
		{"a closed pool", worker.StateRunning, []worker.PoolStatus{closed}, http.StatusServiceUnavailable, false},
		{"starting", worker.StateStarting, nil, http.StatusServiceUnavailable, false},
		{"stopping", worker.StateStopping, []worker.PoolStatus{healthy}, http.StatusServiceUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := worker.NewHealthHandler(func() worker.Health { return worker.NewHealth(tt.state, tt.pools) })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			assert.Equal(t, tt.wantCode, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var got worker.Health
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			assert.Equal(t, tt.wantHealthy, got.Healthy)
			assert.Equal(t, tt.state, got.State)
			assert.Equal(t, tt.pools, got.Pools)
		})
	}
}

func TestHealthHandlerJSON(t *testing.T) {
	h := worker.NewHealthHandler(func() worker.Health {
		return worker.NewHealth(worker.StateRunning, []worker.PoolStatus{{Name: "ml", Degraded: true, LastError: "boom"}})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.JSONEq(t, `{"healthy": false, "state": "running", "pools": [{"name": "ml", "task_queue": "", "healthy": false,
		"degraded": true, "closed": false, "workers": 0, "size": 0, "starting": 0, "capacity": 0, "live_capacity": 0,
		"in_flight": 0, "available": 0, "slots_issued": 0, "last_error": "boom"}]}`, rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

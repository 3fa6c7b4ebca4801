package pools

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionsValidate: each bad field is named in the error; defaults fill the zero fields.
func TestOptionsValidate(t *testing.T) {
	valid := Options{Name: "math", Size: 2, Adapter: "m:C"}
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"valid", func(*Options) {}, ""},
		{"no name", func(o *Options) { o.Name = "" }, "pools: name must not be empty"},
		{"size", func(o *Options) { o.Size = 0 }, `pools: pool "math": size must be >= 1, got 0`},
		{"profile", func(o *Options) { o.Profile = "fiber" }, `pools: pool "math": profile must be "process" or "thread", got "fiber"`},
		{"threads in process", func(o *Options) { o.ThreadsPerWorker = 4 }, `pools: pool "math": threads_per_worker must be 1 in the process profile, got 4`},
		{"threads", func(o *Options) { o.Profile = ProfileThread; o.ThreadsPerWorker = -1 }, `pools: pool "math": threads_per_worker must be >= 1, got -1`},
		{"adapter", func(o *Options) { o.Adapter = "module.Class" }, `pools: pool "math": adapter must be "module:Class", got "module.Class"`},
		{"log level", func(o *Options) { o.LogLevel = "LOUD" }, `log_level must be`},
		{"env", func(o *Options) { o.Env = map[string]string{"A=B": "c"} }, `env has an invalid variable name "A=B"`},
		{"start timeout", func(o *Options) { o.StartTimeout = -time.Second }, `start_timeout must be >= 0, got -1s`},
		{"stop timeout", func(o *Options) { o.StopTimeout = -time.Second }, `stop_timeout must be >= 0`},
		{"batch", func(o *Options) { o.StartupBatchSize = -1 }, `startup_batch_size must be >= 0, got -1`},
		{"missed", func(o *Options) { o.MaxMissedHealthChecks = -2 }, `max_missed_health_checks must be >= 0`},
		{"requests", func(o *Options) { o.MaxRequestsPerWorker = -2 }, `max_requests_per_worker must be >= 0`},
		{"memory", func(o *Options) { o.MaxWorkerMemory = -2 }, `max_worker_memory must be >= 0`},
		{"jitter", func(o *Options) { o.RecycleJitter = 1 }, `recycle_jitter must be in [0, 1), got 1`},
		{"backoff", func(o *Options) { o.RestartBackoff = time.Minute; o.MaxRestartBackoff = time.Second },
			`max_restart_backoff (1s) must be >= restart_backoff (1m0s)`},
		{"health interval may be negative", func(o *Options) { o.HealthCheckInterval = -1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Name: "p", Size: 3, Adapter: "m:C"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, ProfileProcess, o.Profile)
	assert.Equal(t, 1, o.ThreadsPerWorker)
	assert.Equal(t, 3, o.capacity())
	assert.Equal(t, DefaultPython, o.Python)
	assert.Equal(t, DefaultStartTimeout, o.StartTimeout)
	assert.Equal(t, DefaultStopTimeout, o.StopTimeout)
	assert.Equal(t, DefaultHealthCheckInterval, o.HealthCheckInterval)
	assert.Equal(t, DefaultCancelGrace, o.CancelGrace)
	assert.Equal(t, DefaultRecycleJitter, o.RecycleJitter)
	assert.NotNil(t, o.Logger)
	assert.NotNil(t, o.Metrics)

	o, err = Options{Name: "p", Size: 2, Adapter: "m:C", Profile: ProfileThread}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, 4, o.ThreadsPerWorker)
	assert.Equal(t, 8, o.capacity())
}

// TestEnviron: thread-count variables default to 1 (process) or threads_per_worker (thread),
// over the inherited environment; the pool's Env overrides them all; no grpcio experiment flag is
// set (GRPC_EXPERIMENTS passes through only when inherited or given).
func TestEnviron(t *testing.T) {
	base := []string{"PATH=/bin", "OMP_NUM_THREADS=64"}
	tests := []struct {
		name string
		base []string
		opts Options
		want map[string]string
		// unset are variables the environment must not have.
		unset []string
	}{
		{"process", base, Options{Profile: ProfileProcess, ThreadsPerWorker: 1},
			map[string]string{"PATH": "/bin", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
				"NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
			[]string{"GRPC_EXPERIMENTS"}},
		{"thread", base, Options{Profile: ProfileThread, ThreadsPerWorker: 6},
			map[string]string{"OMP_NUM_THREADS": "6", "OPENBLAS_NUM_THREADS": "6", "VECLIB_MAXIMUM_THREADS": "6"},
			[]string{"GRPC_EXPERIMENTS"}},
		{"override", base, Options{Profile: ProfileThread, ThreadsPerWorker: 6,
			Env: map[string]string{"OMP_NUM_THREADS": "2", "X": "y", "GRPC_EXPERIMENTS": "a"}},
			map[string]string{"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "6", "X": "y", "GRPC_EXPERIMENTS": "a"}, nil},
		{"inherited grpc experiments", []string{"GRPC_EXPERIMENTS=b"}, Options{Profile: ProfileProcess, ThreadsPerWorker: 1},
			map[string]string{"GRPC_EXPERIMENTS": "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range tt.opts.environ(tt.base) {
				k, v, _ := cut(kv)
				_, dup := got[k]
				require.False(t, dup, "duplicate %s", k)
				got[k] = v
			}
			for k, v := range tt.want {
				assert.Equal(t, v, got[k], k)
			}
			for _, k := range tt.unset {
				assert.NotContains(t, got, k)
			}
		})
	}
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// TestThreadEnvReachesPython: the Python processes see the thread-count defaults of their
// profile, and the pool's Env over them.
func TestThreadEnvReachesPython(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		threads int
		env     map[string]string
		want    map[string]string
	}{
		{"process", ProfileProcess, 0, nil, map[string]string{"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}},
		{"thread", ProfileThread, 3, nil, map[string]string{"OMP_NUM_THREADS": "3", "NUMEXPR_NUM_THREADS": "3", "VECLIB_MAXIMUM_THREADS": "3"}},
		{"override", ProfileThread, 3, map[string]string{"OMP_NUM_THREADS": "2"}, map[string]string{"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, testAdap, 1)
			opts.Profile = tt.profile
			opts.ThreadsPerWorker = tt.threads
			for k, v := range tt.env {
				opts.Env[k] = v
			}
			p := startPool(t, opts)
			for name, want := range tt.want {
				got, err := call(t, p, "env", map[string]any{"name": name})
				require.NoError(t, err)
				assert.JSONEq(t, `"`+want+`"`, string(got), name)
			}
		})
	}
}

// TestRecycleJitter: each worker's recycle limits are lowered by a random fraction below
// RecycleJitter, so that workers started together do not recycle together.
func TestRecycleJitter(t *testing.T) {
	o := Options{MaxWorkerTTL: time.Hour, MaxRequestsPerWorker: 1000, MaxWorkerMemory: 1 << 30, RecycleJitter: 0.2}
	ttls := map[time.Duration]bool{}
	for range 50 {
		var w worker
		w.setLimits(o)
		assert.LessOrEqual(t, w.ttl, time.Hour)
		assert.Greater(t, w.ttl, 48*time.Minute)
		assert.LessOrEqual(t, w.maxRequests, 1000)
		assert.GreaterOrEqual(t, w.maxRequests, 800)
		assert.LessOrEqual(t, w.maxMemory, int64(1<<30))
		assert.Greater(t, w.maxMemory, int64(858993459))
		ttls[w.ttl] = true
	}
	assert.Greater(t, len(ttls), 40, "limits should differ between workers")

	var w worker
	w.setLimits(Options{MaxWorkerTTL: time.Hour})
	assert.Equal(t, time.Hour, w.ttl, "no jitter when RecycleJitter is 0 (a negative option)")
	assert.Zero(t, w.maxRequests)
	assert.Zero(t, w.maxMemory)
}

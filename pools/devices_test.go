package pools

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
)

func TestDevicesValidation(t *testing.T) {
	base := Options{Name: "p", Size: 2, Adapter: "m:C"}
	for _, tt := range []struct {
		name   string
		modify func(*Options)
		want   string
	}{
		{"env without devices", func(o *Options) { o.DeviceEnv = "CUDA_VISIBLE_DEVICES" },
			`device_env "CUDA_VISIBLE_DEVICES" is set but devices is empty`},
		{"bad env name", func(o *Options) { o.Devices = []string{"0"}; o.DeviceEnv = "A=B" },
			`device_env has an invalid variable name "A=B"`},
		{"empty device", func(o *Options) { o.Devices = []string{"0", " "} },
			`devices[1] must be a device id such as "0" or "0,1", got " "`},
		{"env also in Env", func(o *Options) {
			o.Devices = []string{"0"}
			o.Env = map[string]string{"CUDA_VISIBLE_DEVICES": "1"}
		}, "env sets CUDA_VISIBLE_DEVICES, which devices sets per worker: remove it from env"},
		{"custom env also in Env", func(o *Options) {
			o.Devices = []string{"0"}
			o.DeviceEnv = "HIP_VISIBLE_DEVICES"
			o.Env = map[string]string{"HIP_VISIBLE_DEVICES": "1"}
		}, "env sets HIP_VISIBLE_DEVICES"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.modify(&o)
			err := o.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), `pool "p": `+tt.want)
		})
	}
	o, err := Options{Name: "p", Size: 1, Adapter: "m:C", Devices: []string{"0"}}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultDeviceEnv, o.DeviceEnv, "the default variable")
	o, err = base.withDefaults()
	require.NoError(t, err)
	assert.Empty(t, o.DeviceEnv, "no devices, no variable")
}

func TestDeviceOfSlot(t *testing.T) {
	o := Options{Devices: []string{"0", "1,2"}, DeviceEnv: "HIP_VISIBLE_DEVICES"}
	for slot, want := range []string{"0", "1,2", "0", "1,2"} {
		d, ok := o.Device(slot)
		assert.True(t, ok)
		assert.Equal(t, want, d, "slot %d: round robin", slot)
		assert.Equal(t, []string{"HIP_VISIBLE_DEVICES=" + want}, o.deviceEnviron(slot))
	}
	_, ok := Options{}.Device(0)
	assert.False(t, ok)
	assert.Nil(t, Options{}.deviceEnviron(0), "nothing added without devices")
}

// slotPIDs returns the pid of each ready worker by slot.
func slotPIDs(p *Pool) map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int]int{}
	for _, w := range p.workers {
		if w.state == stateReady && !w.dead {
			out[w.slot] = w.pid
		}
	}
	return out
}

// processEnv reads one variable of a process's environment from /proc/PID/environ.
func processEnv(t *testing.T, pid int, name string) (string, bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err)
	value, found := "", false
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			value, found = v, true // the last one, as exec uses
		}
	}
	return value, found
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDevicesPerWorker: each Python process gets the device of its slot in its environment (over
// an inherited value), keeps it when it is replaced after a crash and when it is recycled, and the
// device is in the logs and the metrics. No accelerator is needed: the test reads each process's
// environment.
func TestDevicesPerWorker(t *testing.T) {
	t.Setenv(DefaultDeviceEnv, "inherited") // the pool's devices win over the inherited value
	scope := tally.NewTestScope("", nil)
	var logs lockedBuffer
	opts := testOptions(t, testAdap, 3)
	opts.Devices = []string{"0", "1"}
	opts.Metrics = scope
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.MaxRequestsPerWorker = 4
	opts.RecycleJitter = -1
	p := startPool(t, opts)

	want := map[int]string{0: "0", 1: "1", 2: "0"}
	check := func(what string, pids map[int]int) {
		t.Helper()
		require.Len(t, pids, 3, what)
		for slot, pid := range pids {
			got, ok := processEnv(t, pid, DefaultDeviceEnv)
			assert.True(t, ok, "%s: slot %d (pid %d) has no %s", what, slot, pid, DefaultDeviceEnv)
			assert.Equal(t, want[slot], got, "%s: the device of slot %d (pid %d)", what, slot, pid)
		}
	}
	started := slotPIDs(p)
	check("at start", started)

	// A crash: the replacement takes the slot and its device.
	require.NoError(t, syscall.Kill(started[1], syscall.SIGKILL))
	waitFor(t, p, 30*time.Second, "slot 1 replaced", func() bool {
		pids := slotPIDs(p)
		return len(pids) == 3 && pids[1] != started[1]
	})
	replaced := slotPIDs(p)
	check("after a crash", replaced)

	// Recycling (after 4 calls each): each replacement takes its predecessor's slot and device.
	for i := range 24 {
		_, err := call(t, p, "noop", nil)
		require.NoError(t, err, "call %d", i)
	}
	waitFor(t, p, 30*time.Second, "every worker recycled", func() bool {
		pids := slotPIDs(p)
		for slot, pid := range replaced {
			if pids[slot] == pid {
				return false
			}
		}
		return len(pids) == 3
	})
	check("after recycling", slotPIDs(p))

	var devices []string
	for _, g := range scope.Snapshot().Gauges() {
		if g.Name() == metricWorkerDevice {
			assert.Equal(t, 1.0, g.Value())
			devices = append(devices, g.Tags()["slot"]+"="+g.Tags()["device"])
		}
	}
	assert.ElementsMatch(t, []string{"0=0", "1=1", "2=0"}, devices, "one %s gauge per slot", metricWorkerDevice)

	ready := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &record), line)
		if record["msg"] == "python worker ready" {
			ready++
			slot := int(record["slot"].(float64))
			assert.Equal(t, want[slot], record["device"], "the log names the device of slot %d", slot)
		}
	}
	assert.GreaterOrEqual(t, ready, 3+1+3, "a ready line for every start, replacement and recycle")
}

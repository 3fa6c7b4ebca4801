package worker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/worker"
)

func TestConfigDevices(t *testing.T) {
	cfg, err := worker.ParseConfig([]byte(`
pools:
  - name: gpu
    size: 3
    adapter: m:C
    devices: ["0", "1"]
  - name: rocm
    size: 1
    adapter: m:C
    devices: ["2,3"]
    device_env: HIP_VISIBLE_DEVICES
`), "")
	require.NoError(t, err)
	gpu := cfg.Pools[0].Options()
	assert.Equal(t, []string{"0", "1"}, gpu.Devices)
	assert.Empty(t, gpu.DeviceEnv, "the pool's default applies")
	rocm := cfg.Pools[1].Options()
	assert.Equal(t, []string{"2,3"}, rocm.Devices)
	assert.Equal(t, "HIP_VISIBLE_DEVICES", rocm.DeviceEnv)

	_, err = worker.ParseConfig([]byte(`
pools:
  - name: gpu
    size: 1
    adapter: m:C
    device_env: CUDA_VISIBLE_DEVICES
`), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `line 3: pools[0] ("gpu"): device_env "CUDA_VISIBLE_DEVICES" is set but devices is empty`)
}

package pools

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDegradedClearsAtFullSize: a pool in a crash loop is degraded while it is short of workers,
// and healthy again as soon as it is back at full size, although its failures are still within
// the crash-loop window.
func TestDegradedClearsAtFullSize(t *testing.T) {
	poison := filepath.Join(t.TempDir(), "poison")
	opts := testOptions(t, testAdap, 2)
	opts.Env["POOLTEST_POISON"] = poison
	opts.RestartBackoff = 20 * time.Millisecond
	opts.MaxRestartBackoff = 200 * time.Millisecond
	opts.CrashLoopThreshold = 3
	opts.CrashLoopWindow = 10 * time.Minute // the failures stay within the window for the whole test
	p := startPool(t, opts)

	require.NoError(t, os.WriteFile(poison, nil, 0o600))
	require.NoError(t, syscall.Kill(workerPIDs(p)[0], syscall.SIGKILL))
	waitFor(t, p, 20*time.Second, "the pool to be degraded", func() bool { return p.Health().Degraded })
	assert.Equal(t, 1, p.Health().Workers)

	require.NoError(t, os.Remove(poison))
	waitFor(t, p, 20*time.Second, "the pool back at full size", func() bool { return p.Health().Workers == 2 })
	h := p.Health()
	assert.False(t, h.Degraded, "a pool back at full size is not degraded")
	assert.Error(t, h.LastError, "the last failure is still reported")
}

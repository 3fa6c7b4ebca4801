//go:build linux

package pools

import (
	"testing"
)

// BenchmarkLeftoverScan measures one scan for a worker's leftovers (its group, its marker): the
// cost the end of a Python worker adds per round of killLeftovers (one round when nothing is
// left). It reads /proc/PID/stat and /proc/PID/environ of every process of the machine.
func BenchmarkLeftoverScan(b *testing.B) {
	for b.Loop() {
		if pids := children.leftovers(1<<30, newMarker()); len(pids) != 0 {
			b.Fatalf("leftovers of a group and marker nobody has: %v", pids)
		}
	}
	b.ReportMetric(float64(len(listProcs())), "processes")
}

package pools

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkNoop measures the round trip of a no-op tool through each profile: p50 and p99
// latency of one call, and calls/s with parallel callers.
//
//	go test -run '^$' -bench Noop -benchtime 5s ./pools
func BenchmarkNoop(b *testing.B) {
	profiles := []struct {
		name        string
		profile     Profile
		size        int
		threads     int
		parallelism int // callers per GOMAXPROCS
	}{
		{"process", ProfileProcess, 2, 1, 1},
		{"thread", ProfileThread, 2, 4, 2},
	}
	for _, pr := range profiles {
		b.Run(pr.name, func(b *testing.B) {
			opts := testOptions(b, testAdap, pr.size)
			opts.Profile = pr.profile
			opts.ThreadsPerWorker = pr.threads
			opts.Logger = slog.New(slog.DiscardHandler)
			p := startPool(b, opts)
			ctx := context.Background()
			for range 200 { // warm up
				if _, err := p.Call(ctx, Call{Tool: "noop"}); err != nil {
					b.Fatal(err)
				}
			}
			var mu sync.Mutex
			var all []time.Duration
			b.SetParallelism(pr.parallelism)
			b.ResetTimer()
			begin := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				lat := make([]time.Duration, 0, 1024)
				for pb.Next() {
					t0 := time.Now()
					if _, err := p.Call(ctx, Call{Tool: "noop"}); err != nil {
						b.Error(err)
						return
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			elapsed := time.Since(begin)
			b.StopTimer()
			if len(all) == 0 {
				return
			}
			slices.Sort(all)
			pct := func(q float64) float64 {
				return float64(all[min(len(all)-1, int(q*float64(len(all))))].Microseconds())
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
		})
	}
}

package pools

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkNoop measures the round trip of a no-op tool through each profile. "serial" runs one
// caller (the bare round-trip latency); "parallel" runs enough callers to fill the pool (the
// throughput, and the latency under that load). Each reports p50 and p99 latency and calls/s.
//
//	go test -run '^$' -bench Noop -benchtime 5s ./pools   (or bench/pools.sh)
func BenchmarkNoop(b *testing.B) {
	profiles := []struct {
		name     string
		profile  Profile
		size     int
		threads  int
		parallel int // callers per GOMAXPROCS in the parallel run
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
			b.Run("serial", func(b *testing.B) { benchSerialNoop(b, p) })
			b.Run("parallel", func(b *testing.B) {
				var mu sync.Mutex
				var all []time.Duration
				b.SetParallelism(pr.parallel)
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
				report(b, all, time.Since(begin))
			})
		})
	}
}

// benchSerialNoop calls the noop tool of p from one goroutine and reports the round trips.
func benchSerialNoop(b *testing.B, p *Pool) {
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1024)
	begin := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := p.Call(ctx, Call{Tool: "noop"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	report(b, lat, time.Since(begin))
}

// report adds p50, p99 (in microseconds) and calls/s to a benchmark's results.
func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "calls/s")
}

package pools

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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

// BenchmarkBatch measures the cost per item of a batch of no-op items through a pool of 2 process
// workers, to set beside BenchmarkNoop's cost per call:
//
//   - serial: one caller runs batches of 500 items, one after the other (the per-item cost in one
//     worker);
//
//   - parallel: one caller per slot, each running batches of 500 (the pool's item rate);
//
//   - map10000: a map of 10,000 items as batches of 500 over both slots, as a batched map step
//     would run it (reported per map: items/s end to end at the pool level).
//
//     go test -run '^$' -bench 'Noop|Batch' -benchtime 3s ./pools   (or bench/pools.sh)
func BenchmarkBatch(b *testing.B) {
	const batchSize = 500
	opts := testOptions(b, testAdap, 2)
	opts.Logger = slog.New(slog.DiscardHandler)
	p := startPool(b, opts)
	ctx := context.Background()
	noops := make([]json.RawMessage, 10_000)
	batch := func(n int) error { return p.CallBatch(ctx, BatchCall{Tool: "noop", Items: noops[:n]}) }
	for range 4 { // warm up
		if err := batch(batchSize); err != nil {
			b.Fatal(err)
		}
	}
	reportItems := func(b *testing.B, items int, elapsed time.Duration) {
		b.ReportMetric(float64(elapsed.Microseconds())/float64(items), "µs/item")
		b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
	}
	b.Run("serial", func(b *testing.B) {
		items := 0
		begin := time.Now()
		for b.Loop() {
			if err := batch(batchSize); err != nil {
				b.Fatal(err)
			}
			items += batchSize
		}
		reportItems(b, items, time.Since(begin))
	})
	b.Run("parallel", func(b *testing.B) {
		var items atomic.Int64
		b.SetParallelism(1) // GOMAXPROCS callers: at least the 2 slots
		begin := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := batch(batchSize); err != nil {
					b.Error(err)
					return
				}
				items.Add(batchSize)
			}
		})
		reportItems(b, int(items.Load()), time.Since(begin))
	})
	b.Run("map10000", func(b *testing.B) {
		maps := 0
		begin := time.Now()
		for b.Loop() {
			var wg sync.WaitGroup
			chunks := make(chan int, len(noops)/batchSize)
			for first := 0; first < len(noops); first += batchSize {
				chunks <- first
			}
			close(chunks)
			for range p.Capacity() {
				wg.Go(func() {
					for first := range chunks {
						if err := p.CallBatch(ctx, BatchCall{Tool: "noop", Items: noops[first : first+batchSize]}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			wg.Wait()
			maps++
		}
		reportItems(b, maps*len(noops), time.Since(begin))
	})
}

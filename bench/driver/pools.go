package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/snakepool/snakepool/pools"
)

// poolsConfig is the pools command's flags.
type poolsConfig struct {
	python, dir, adapter string
	rounds               int
	startupSizes         []int
	profiles             []pools.Profile
	threads              int
	settle               time.Duration
	payloadSizes         []int
	payloadCalls         int
	startTimeout         time.Duration
}

// startupSample is one pool start: how long pools.Start took and each process's idle memory.
type startupSample struct {
	Round    int     `json:"round"`
	Profile  string  `json:"profile"`
	Workers  int     `json:"workers"`
	Seconds  float64 `json:"seconds"`
	RSSBytes []int64 `json:"rss_bytes"` // VmRSS of each Python process, idle
	PSSBytes []int64 `json:"pss_bytes"` // its proportional share (shared pages divided among sharers)
}

// payloadSample is the round trips of one payload size through a one-process pool.
type payloadSample struct {
	Round int     `json:"round"`
	Bytes int     `json:"bytes"`
	Calls int     `json:"calls"`
	P50us float64 `json:"p50_us"`
	P99us float64 `json:"p99_us"`
}

type poolsResult struct {
	Startup  []startupSample `json:"startup"`
	Payloads []payloadSample `json:"payloads"`
}

// poolsCommand measures, in alternating rounds and without Temporal: how long a pool of N Python
// processes takes to be ready (pools.Start) and how much memory each idle process holds, per
// profile; and the round trip of an echo tool called with a string of each payload size (so that
// the payload goes both ways) through a one-process pool.
func poolsCommand(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parsePoolsFlags(args)
	if err != nil {
		return err
	}
	var res poolsResult
	for round := 1; round <= cfg.rounds; round++ {
		sizes := rotate(cfg.startupSizes, round-1)
		for _, profile := range rotate(cfg.profiles, round-1) {
			for _, n := range sizes {
				s, err := measureStartup(ctx, cfg, profile, n)
				if err != nil {
					return fmt.Errorf("round %d, %s pool of %d: %w", round, profile, n, err)
				}
				s.Round = round
				res.Startup = append(res.Startup, s)
			}
		}
		if len(cfg.payloadSizes) > 0 {
			samples, err := measurePayloads(ctx, cfg, rotate(cfg.payloadSizes, round-1))
			if err != nil {
				return fmt.Errorf("round %d, payloads: %w", round, err)
			}
			for i := range samples {
				samples[i].Round = round
			}
			res.Payloads = append(res.Payloads, samples...)
		}
	}
	return writeJSON(stdout, res)
}

func parsePoolsFlags(args []string) (poolsConfig, error) {
	var cfg poolsConfig
	flags := flag.NewFlagSet("pools", flag.ContinueOnError)
	flags.StringVar(&cfg.python, "python", "", "interpreter with the snakepool package (required)")
	flags.StringVar(&cfg.dir, "dir", "", "working directory of the Python processes (holds the adapter module)")
	flags.StringVar(&cfg.adapter, "adapter", "", "adapter as module:Class, with an echo(data: str) tool (required)")
	flags.IntVar(&cfg.rounds, "rounds", 3, "alternating rounds")
	startup := flags.String("startup", "1,4,8", "pool sizes whose startup and idle memory are measured")
	profiles := flags.String("profiles", "process,thread", "profiles of the startup measurement")
	flags.IntVar(&cfg.threads, "threads", 2, "threads per process of the thread profile")
	flags.DurationVar(&cfg.settle, "settle", 500*time.Millisecond, "idle time before memory is read")
	payloads := flags.String("payload-sizes", "1024,10240,102400,1048576", "payload sizes in bytes (empty: none)")
	flags.IntVar(&cfg.payloadCalls, "payload-calls", 50, "calls per payload size and round")
	flags.DurationVar(&cfg.startTimeout, "start-timeout", time.Minute, "bound on one pool's start")
	usage := usageError{"pools --python P --adapter module:Class [--dir D] [--rounds N] [--startup 1,4,8] [--profiles process,thread] [--payload-sizes B,...] [--payload-calls N]"}
	if err := flags.Parse(args); err != nil || cfg.python == "" || cfg.adapter == "" || cfg.rounds < 1 || cfg.payloadCalls < 1 {
		return cfg, usage
	}
	var err error
	if cfg.startupSizes, err = parseInts(*startup); err != nil {
		return cfg, usageError{"--startup: " + err.Error()}
	}
	if cfg.payloadSizes, err = parseInts(*payloads); err != nil {
		return cfg, usageError{"--payload-sizes: " + err.Error()}
	}
	for _, p := range splitList(*profiles) {
		if p != string(pools.ProfileProcess) && p != string(pools.ProfileThread) {
			return cfg, usageError{fmt.Sprintf("--profiles: %q is neither process nor thread", p)}
		}
		cfg.profiles = append(cfg.profiles, pools.Profile(p))
	}
	return cfg, nil
}

// poolOptions are the options of a pool of size processes of profile.
func (cfg poolsConfig) poolOptions(profile pools.Profile, size int) pools.Options {
	threads := 1
	if profile == pools.ProfileThread {
		threads = cfg.threads
	}
	return pools.Options{
		Name: "bench-" + string(profile), Profile: profile, Size: size, ThreadsPerWorker: threads,
		Adapter: cfg.adapter, Python: cfg.python, Dir: cfg.dir, StartTimeout: cfg.startTimeout,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// measureStartup starts a pool of n processes, times pools.Start, reads the idle memory of each
// Python process after cfg.settle, and stops the pool.
func measureStartup(ctx context.Context, cfg poolsConfig, profile pools.Profile, n int) (startupSample, error) {
	sample := startupSample{Profile: string(profile), Workers: n}
	startCtx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	begin := time.Now()
	p, err := pools.Start(startCtx, cfg.poolOptions(profile, n))
	if err != nil {
		return sample, fmt.Errorf("start: %w", err)
	}
	sample.Seconds = time.Since(begin).Seconds()
	defer func() { _ = stopPool(p) }() // on an early return; Stop again is harmless
	select {
	case <-ctx.Done():
		return sample, ctx.Err()
	case <-time.After(cfg.settle):
	}
	pids, err := childPIDs()
	if err != nil {
		return sample, err
	}
	if len(pids) != n {
		return sample, fmt.Errorf("found %d child processes, want the pool's %d Python processes", len(pids), n)
	}
	for _, pid := range pids {
		m, err := readMemory(pid)
		if err != nil {
			return sample, err
		}
		sample.RSSBytes = append(sample.RSSBytes, m.rss)
		sample.PSSBytes = append(sample.PSSBytes, m.pss)
	}
	return sample, stopPool(p)
}

// measurePayloads calls the echo tool of a one-process pool with each payload size in turn.
func measurePayloads(ctx context.Context, cfg poolsConfig, sizes []int) ([]payloadSample, error) {
	startCtx, cancel := context.WithTimeout(ctx, cfg.startTimeout)
	defer cancel()
	p, err := pools.Start(startCtx, cfg.poolOptions(pools.ProfileProcess, 1))
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer func() { _ = stopPool(p) }() // on an early return; Stop again is harmless
	var samples []payloadSample
	for _, size := range sizes {
		args, err := json.Marshal(map[string]string{"data": strings.Repeat("x", size)})
		if err != nil {
			return nil, err
		}
		call := pools.Call{Tool: "echo", Args: args}
		for range 3 { // warm up
			if _, err := p.Call(ctx, call); err != nil {
				return nil, fmt.Errorf("echo %d bytes: %w", size, err)
			}
		}
		lat := make([]time.Duration, 0, cfg.payloadCalls)
		for range cfg.payloadCalls {
			t0 := time.Now()
			out, err := p.Call(ctx, call)
			if err != nil {
				return nil, fmt.Errorf("echo %d bytes: %w", size, err)
			}
			lat = append(lat, time.Since(t0))
			if len(out) != size+2 { // the JSON string: quotes around the x's
				return nil, fmt.Errorf("echo %d bytes: got %d bytes back", size, len(out))
			}
		}
		slices.Sort(lat)
		samples = append(samples, payloadSample{Bytes: size, Calls: len(lat),
			P50us: percentileMicros(lat, 0.50), P99us: percentileMicros(lat, 0.99)})
	}
	return samples, stopPool(p)
}

// stopPool stops p within a minute; calling it twice is harmless.
func stopPool(p *pools.Pool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		return fmt.Errorf("stop the pool: %w", err)
	}
	return nil
}

// percentileMicros is the q-quantile of sorted latencies, in microseconds.
func percentileMicros(sorted []time.Duration, q float64) float64 {
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

// rotate returns xs rotated left by k, so that rounds alternate which variant goes first.
func rotate[T any](xs []T, k int) []T {
	if len(xs) == 0 {
		return xs
	}
	k %= len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

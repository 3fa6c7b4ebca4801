// Command profiles runs the same CPU-bound and GIL-releasing work on a process pool and on a
// thread pool of the same capacity, through Temporal, and prints how long each took
// (docs/examples.md). It starts the pools of snakepool.yaml in-process (worker.Start) against a
// Temporal server, e.g. `bin/temporal server start-dev`:
//
//	go run ./examples/profiles [--address localhost:7233] [--rounds 3] [--items 4]
//
// Each measurement is one Pipeline: a map of --items calls of one tool on one pool, as many at
// once as the pool's capacity (2). The pools take turns within each round (the order alternates),
// and the table shows the median wall time of the rounds with their spread.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/snakepool/snakepool/worker"
	"github.com/snakepool/snakepool/workflows"
)

// work is one kind of work: a tool and the arguments of one call.
type work struct {
	label string
	tool  string
	args  map[string]any
}

// works are the two kinds compared, each about half a second per call on one core.
var works = []work{
	{"CPU-bound pure Python", "count_primes", map[string]any{"limit": 150_000}},
	{"GIL-releasing C (hashlib)", "hash_data", map[string]any{"megabytes": 8, "rounds": 50}},
}

// pools are the pools compared, both of capacity 2.
var pools = []string{"procs", "threads"}

// callReport is what each call of the adapter returns.
type callReport struct {
	Result  any     `json:"result"`
	PID     int     `json:"pid"`
	Thread  string  `json:"thread"`
	Seconds float64 `json:"seconds"`
}

// Measurement is the outcome of one kind of work on one pool over the rounds.
type Measurement struct {
	Work, Pool string
	// Walls are the wall times of the rounds' pipelines.
	Walls []time.Duration
	// PIDs and Threads are the distinct processes and threads that ran the calls.
	PIDs, Threads int
	// Results are the calls' results (the same for every call of a kind of work).
	Results []any
}

// Median is the median wall time.
func (m Measurement) Median() time.Duration {
	s := slices.Clone(m.Walls)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	address := flag.String("address", "localhost:7233", "Temporal frontend host:port")
	config := flag.String("config", defaultConfig(), "the worker config with pools procs and threads")
	rounds := flag.Int("rounds", 3, "rounds of measurements")
	items := flag.Int("items", 4, "calls per measurement")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ms, err := Compare(ctx, *address, *config, *rounds, *items)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profiles:", err)
		os.Exit(1)
	}
	Print(os.Stdout, ms, *items)
}

func defaultConfig() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "snakepool.yaml")
}

// Compare starts the pools of config against Temporal at address, measures every kind of work
// on every pool for rounds rounds of items calls each, and stops the pools.
func Compare(ctx context.Context, address, config string, rounds, items int) (_ []Measurement, err error) {
	cfg, err := worker.LoadConfig(config)
	if err != nil {
		return nil, err
	}
	cfg.Temporal.Address = address
	cfg.Metrics.Address = worker.MetricsOff
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := worker.Start(ctx, cfg, worker.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if stopErr := w.Stop(stopCtx); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	ms := make([]Measurement, 0, len(works)*len(pools))
	for _, wk := range works {
		for _, pool := range pools {
			ms = append(ms, Measurement{Work: wk.label, Pool: pool})
		}
	}
	for round := range rounds {
		for wi, wk := range works {
			order := slices.Clone(pools)
			if round%2 == 1 {
				slices.Reverse(order) // alternate who goes first
			}
			for _, pool := range order {
				m := &ms[wi*len(pools)+slices.Index(pools, pool)]
				wall, reports, err := measure(ctx, w.Client(), cfg.Temporal.TaskQueue, pool, wk, items)
				if err != nil {
					return nil, fmt.Errorf("%s on pool %s: %w", wk.tool, pool, err)
				}
				m.Walls = append(m.Walls, wall)
				pids, threads := map[int]bool{}, map[string]bool{}
				for _, r := range reports {
					pids[r.PID] = true
					threads[fmt.Sprint(r.PID, r.Thread)] = true
					m.Results = append(m.Results, r.Result)
				}
				m.PIDs, m.Threads = max(m.PIDs, len(pids)), max(m.Threads, len(threads))
			}
		}
	}
	return ms, nil
}

// measure runs items calls of wk on pool as one Pipeline map and returns its wall time.
func measure(ctx context.Context, c client.Client, taskQueue, pool string, wk work, items int) (time.Duration, []callReport, error) {
	// A map over copies of the arguments, each item being one call's arguments.
	over := make([]any, items)
	for i := range over {
		over[i] = wk.args
	}
	step := map[string]any{"name": wk.tool, "pool": pool, "tool": wk.tool, "args": map[string]any{"$ref": "item"},
		"map": map[string]any{"over": over, "concurrency": items}}
	spec, err := json.Marshal(map[string]any{"steps": []any{step}})
	if err != nil {
		return 0, nil, err
	}
	parsed, err := workflows.ParseSpec(spec)
	if err != nil {
		return 0, nil, err
	}
	begin := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, workflows.PipelineName, parsed)
	if err != nil {
		return 0, nil, err
	}
	var result workflows.PipelineResult
	if err := run.Get(ctx, &result); err != nil {
		return 0, nil, err
	}
	wall := time.Since(begin)
	var reports []callReport
	if err := json.Unmarshal(result.Results[0].Result, &reports); err != nil {
		return 0, nil, err
	}
	return wall, reports, nil
}

// Print writes the table of measurements.
func Print(out io.Writer, ms []Measurement, items int) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "work\tpool\tprocesses\tthreads\twall for %d calls (median)\tspread\n", items)
	for _, m := range ms {
		lo, hi := slices.Min(m.Walls), slices.Max(m.Walls)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2fs\t%.2f-%.2fs\n", m.Work, m.Pool, m.PIDs, m.Threads,
			m.Median().Seconds(), lo.Seconds(), hi.Seconds())
	}
	_ = tw.Flush()
}

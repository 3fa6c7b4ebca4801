// Command snakepool-worker runs a snakepool worker: the Python pools of a config file, one Temporal
// worker per pool (each tool an activity on "snakepool.<pool>") and the Pipeline workflow worker,
// plus an HTTP endpoint with /metrics (Prometheus), /livez, /readyz and /healthz.
//
//	snakepool-worker --config examples/snakepool.yaml [--temporal-address host:7233] [--namespace ns]
//
// Settings come from, in order of precedence: flags, SNAKEPOOL_* environment variables, the YAML
// config file, defaults (see docs/worker.md and `snakepool-worker -h`).
//
// On SIGINT or SIGTERM it stops gracefully: the Temporal workers stop polling, running activities
// get temporal.worker_stop_timeout to finish, then the Python processes are stopped, and it exits
// 0. A second signal ends it at once.
//
// It adopts the orphans of its pools' tools (pools.AdoptOrphans, a child subreaper), kills them
// when their Python worker ends and reaps them, also when it runs as PID 1 of a container.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

func main() {
	// This program starts child processes only through its pools, as AdoptOrphans requires.
	undo, err := pools.AdoptOrphans()
	if err != nil {
		fmt.Fprintf(os.Stderr, "snakepool-worker: warning: %v; processes the tools start may outlive their Python worker\n", err)
		undo = func() {}
	}
	code := run(os.Args[1:], os.Getenv, os.Stderr)
	undo()
	os.Exit(code)
}

// httpShutdownTimeout bounds the HTTP server's shutdown once the worker has stopped.
const httpShutdownTimeout = 5 * time.Second

// run runs the command and returns its exit code: 0 after a clean stop, 1 on an error, 2 on a
// usage error.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	s, code := configure(args, getenv, stderr)
	if code >= 0 {
		return code
	}
	logger := s.logger(stderr)
	slog.SetDefault(logger)
	fail := func(err error) int {
		logger.Error("snakepool worker failed", "error", err)
		return 1
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	opts := worker.Options{Logger: logger}
	var running atomic.Pointer[worker.Worker]
	var stopped atomic.Bool
	if s.cfg.Metrics.Address != worker.MetricsOff {
		metrics := worker.NewPrometheusMetrics(logger)
		defer func() { _ = metrics.Close() }()
		opts.Metrics = metrics.Scope()
		listener, err := net.Listen("tcp", s.cfg.Metrics.Address)
		if err != nil {
			return fail(fmt.Errorf("metrics endpoint: %w (set metrics.address, --metrics-address or SNAKEPOOL_METRICS_ADDRESS to another address, or to %q)", err, worker.MetricsOff))
		}
		server := newHTTPServer(metrics, func() worker.Health {
			if stopped.Load() {
				return worker.NewHealth(worker.StateStopped, nil)
			}
			if w := running.Load(); w != nil {
				return w.Health()
			}
			return worker.NewHealth(worker.StateStarting, nil)
		})
		addr := listener.Addr().String()
		logger.Info("HTTP endpoint listening", "address", addr, "metrics", "http://"+addr+"/metrics",
			"livez", "http://"+addr+"/livez", "readyz", "http://"+addr+"/readyz", "healthz", "http://"+addr+"/healthz")
		go func() {
			if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("HTTP endpoint failed", "error", err)
			}
		}()
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
			defer cancel()
			_ = server.Shutdown(shutdownCtx)
		}()
	}

	w, err := worker.Start(ctx, s.cfg, opts)
	if err != nil {
		return fail(err)
	}
	running.Store(w)

	<-ctx.Done()
	stopSignals() // a second signal ends the process at once
	logger.Info("Stopping snakepool worker: running activities may finish",
		"reason", context.Cause(ctx), "worker_stop_timeout", s.cfg.Temporal.WorkerStopTimeout,
		"shutdown_timeout", s.shutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	err = w.Stop(stopCtx)
	stopped.Store(true)
	if err != nil {
		return fail(err)
	}
	return 0
}

func newHTTPServer(metrics *worker.PrometheusMetrics, health func() worker.Health) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("/livez", worker.NewLivenessHandler(health))
	mux.Handle("/readyz", worker.NewReadinessHandler(health))
	mux.Handle("/healthz", worker.NewHealthHandler(health))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "snakepool-worker: /metrics (Prometheus), /livez (200 while the process serves), "+
			"/readyz (200 when every pool has capacity), /healthz (JSON detail; 503 when not ready)")
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// newLogger builds the process's logger.
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parseLogFormat checks a log format.
func parseLogFormat(format string) (string, error) {
	switch f := strings.ToLower(format); f {
	case "text", "json":
		return f, nil
	default:
		return "", fmt.Errorf("must be text or json, got %q", format)
	}
}

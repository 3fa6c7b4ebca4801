// Command snakepool-worker runs a snakepool worker: the Python pools of a config file, one Temporal
// worker per pool (each tool an activity on "snakepool.<pool>") and the Pipeline workflow worker.
// It runs until SIGINT or SIGTERM, then stops the Temporal workers and the Python processes.
//
//	snakepool-worker --config examples/snakepool.yaml [--temporal-address host:7233] [--namespace ns]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/snakepool/snakepool/worker"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("snakepool-worker", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "snakepool.yaml", "the YAML config file")
	address := flags.String("temporal-address", "", "Temporal frontend host:port (overrides temporal.address)")
	namespace := flags.String("namespace", "", "Temporal namespace (overrides temporal.namespace)")
	logLevel := flags.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := flags.String("log-format", "text", "log format: text or json")
	shutdown := flags.Duration("shutdown-timeout", worker.DefaultShutdownTimeout, "bound on stopping after a signal")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: snakepool-worker [flags]")
		fmt.Fprintln(stderr, "Runs the Python pools of the config as Temporal activity workers until SIGINT/SIGTERM.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "snakepool-worker: unexpected arguments: %s\n", strings.Join(flags.Args(), " "))
		return 2
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "snakepool-worker: %v\n", err)
		return 2
	}
	slog.SetDefault(logger)

	cfg, err := worker.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "snakepool-worker: %v\n", err)
		return 1
	}
	if *address != "" {
		cfg.Temporal.Address = *address
	}
	if *namespace != "" {
		cfg.Temporal.Namespace = *namespace
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg, worker.Options{Logger: logger}, *shutdown); err != nil {
		fmt.Fprintf(stderr, "snakepool-worker: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
	}
}

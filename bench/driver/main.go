// Command bench-driver is the Go side of `make bench` (bench/run.py builds and runs it; the
// figures it produces are in docs/benchmarks.md):
//
//	bench-driver wait       --address A [--timeout 60s]
//	bench-driver goworker   --address A --task-queue Q --slots N
//	bench-driver run        --address A --task-queue Q --workflow TYPE --input FILE [--timeout 10m]
//	bench-driver check-spec FILE
//	bench-driver pools      --python P --dir D --adapter module:Class [...]
//
// wait returns once a Temporal frontend answers; goworker is a plain Go activity worker (the
// ceiling of the fan-out benchmark) with the FanOut workflow; run starts one workflow, waits for
// it and reports how long it took; check-spec says whether this build's Pipeline accepts a spec;
// pools measures pool startup, idle memory and payload round trips without Temporal.
//
// Every command writes its result as one JSON object on stdout and its errors on stderr, and
// exits 1 on an error, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses its own flags and writes its JSON result to stdout.
type command func(ctx context.Context, args []string, stdout io.Writer) error

var commands = map[string]command{
	"wait":       waitCommand,
	"goworker":   goWorkerCommand,
	"run":        runCommand,
	"check-spec": checkSpecCommand,
	"pools":      poolsCommand,
}

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || commands[args[0]] == nil {
		fmt.Fprintln(stderr, "usage: bench-driver wait|goworker|run|check-spec|pools [flags] (see bench/driver/main.go)")
		return 2
	}
	if err := commands[args[0]](ctx, args[1:], stdout); err != nil {
		fmt.Fprintf(stderr, "bench-driver %s: %v\n", args[0], err)
		if _, ok := err.(usageError); ok {
			return 2
		}
		return 1
	}
	return 0
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// quietLogger keeps the Temporal SDK's info lines off stderr.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

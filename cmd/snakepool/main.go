// Command snakepool is the command line of adapter authors:
//
//	snakepool init DIR                                   a new project that runs as generated
//	snakepool call ADAPTER TOOL --args JSON              one tool call through a real pool, no Temporal
//	snakepool call --config FILE --pool NAME TOOL ...    the same, on a config's pool
//	snakepool describe ADAPTER | --config FILE [--json]  the tools and their argument schemas
//	snakepool doctor [--config FILE]                     checks the interpreter, packages, adapters and Temporal
//
// It is a Go program, beside snakepool-worker, because `call` runs the tool through the real
// supervisor (package pools: the process start, handshake, health checks, cancellation and error
// mapping of the worker) and `doctor` asks Temporal about the pools' task queues with the Go SDK;
// the Python package stays free of both. Every verb has --help (docs/cli.md shows them all).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"sync"
	"syscall"

	"github.com/snakepool/snakepool/pools"
)

// Exit codes shared by the verbs (each verb's --help says which it uses).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitStart       = 3
	exitInterrupted = 130
)

// verb is a subcommand.
type verb struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

var verbs = map[string]verb{
	"init":     {"create a new project: an adapter whose tool heartbeats and resumes, a config, a pipeline, a pytest test", runInit},
	"call":     {"run one tool through a real pool (no Temporal), printing heartbeats and the result", runCall},
	"describe": {"list the tools of an adapter or a config's pools, with their argument JSON schemas", runDescribe},
	"doctor":   {"check the interpreter, its packages, the adapters, Temporal and the task queues' pollers", runDoctor},
	"version":  {"print the version of this binary", runVersion},
}

func main() {
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, interrupts: interrupts, exit: os.Exit,
		adoptOrphans: pools.AdoptOrphans}
	os.Exit(e.run(os.Args[1:]))
}

// env is what a verb runs with: its streams, the environment, and the interrupts (SIGINT, SIGTERM).
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	interrupts     <-chan os.Signal
	// exit ends the process at once (a second Ctrl-C).
	exit func(code int)
	// adoptOrphans is pools.AdoptOrphans, which call uses as snakepool-worker does (it starts
	// processes only through its pool); nil leaves it out (the in-process tests, whose test binary
	// starts processes of its own).
	adoptOrphans func() (undo func(), err error)

	mu          sync.Mutex
	interrupted int
	handler     func(first bool)
}

// run runs the verb named by args[0] and returns the exit code.
func (e *env) run(args []string) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go e.watchInterrupts(cancel)
	if len(args) == 0 {
		e.printUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if v, ok := verbs[args[1]]; ok {
				return v.run(ctx, e, []string{"--help"})
			}
		}
		e.printUsage(e.stdout)
		return exitOK
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(e.stderr, "snakepool: unknown command %q\n\n", name)
		e.printUsage(e.stderr)
		return exitUsage
	}
	return v.run(ctx, e, args[1:])
}

func (e *env) printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: snakepool COMMAND [flags]   (snakepool COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nThe command line of snakepool adapter authors. Commands:")
	names := make([]string, 0, len(verbs))
	for name := range verbs {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return verbOrder(names[i]) < verbOrder(names[j]) })
	for _, name := range names {
		fmt.Fprintf(w, "  %-9s %s\n", name, verbs[name].summary)
	}
	fmt.Fprintln(w, "\nA project from scratch: snakepool init my-project, then follow the README it writes.")
}

// verbOrder lists the verbs in the order a new user meets them.
func verbOrder(name string) int {
	for i, n := range []string{"init", "call", "describe", "doctor", "version"} {
		if n == name {
			return i
		}
	}
	return 99
}

// watchInterrupts hands each interrupt to the handler a verb installed with onInterrupt, or
// cancels the verb's context on the first and exits at once on the second.
func (e *env) watchInterrupts(cancel context.CancelCauseFunc) {
	for range e.interrupts {
		e.mu.Lock()
		e.interrupted++
		first, handler := e.interrupted == 1, e.handler
		e.mu.Unlock()
		switch {
		case handler != nil:
			handler(first)
		case first:
			cancel(errors.New("interrupted"))
		default:
			e.exit(exitInterrupted)
		}
	}
}

// onInterrupt makes fn receive the interrupts (first is true for the command's first one) until
// the returned function is called.
func (e *env) onInterrupt(fn func(first bool)) (stop func()) {
	e.mu.Lock()
	e.handler = fn
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.handler = nil
		e.mu.Unlock()
	}
}

// usageError prints a verb's usage error and returns exitUsage.
func (e *env) usageError(verb string, err error) int {
	fmt.Fprintf(e.stderr, "snakepool %s: %v\n", verb, err)
	return exitUsage
}

// usageExit is the exit code after command.parse failed: 0 for --help, 2 otherwise.
func usageExit(err error) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	return exitUsage
}

func runVersion(_ context.Context, e *env, args []string) int {
	c := newCommand("version", "snakepool version", "Prints the version of this binary (its Go module version; \"(devel)\" when built from a checkout).", e.stderr)
	if _, err := c.parse(args); err != nil {
		return usageExit(err)
	}
	version := "(unknown)"
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
	}
	fmt.Fprintf(e.stdout, "snakepool %s (Go module github.com/snakepool/snakepool)\n", version)
	return exitOK
}

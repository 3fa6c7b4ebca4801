package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// console writes the lines of one command to one stream; the pool's log handler and the heartbeat
// printer share it, so that their lines never interleave mid-line.
type console struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, format, args...)
}

// poolLog is the slog handler of the pools the CLI starts. What an adapter author wants to see is
// always shown: the tool's prints (the Python process's stdout and stderr) and its logger's
// records (snakepool.tool.*, INFO and up). The pool's own records and the server's are shown from
// WARN up, or all of them when verbose.
type poolLog struct {
	out     *console
	verbose bool
	attrs   []slog.Attr
}

func newPoolLogger(out *console, verbose bool) *slog.Logger {
	return slog.New(&poolLog{out: out, verbose: verbose})
}

func (h *poolLog) Enabled(_ context.Context, level slog.Level) bool {
	return h.verbose || level >= slog.LevelInfo
}

func (h *poolLog) Handle(_ context.Context, r slog.Record) error {
	var stream, logger string
	var extra []string
	visit := func(a slog.Attr) bool {
		switch a.Key {
		case "stream":
			stream = a.Value.String()
		case "logger":
			logger = a.Value.String()
		case "pool", "thread", "worker_id", "worker", "slot", "pid", "call_id":
			if h.verbose {
				extra = append(extra, a.Key+"="+a.Value.String())
			}
		default:
			extra = append(extra, a.Key+"="+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)
	switch {
	case stream == "stdout" || stream == "stderr":
		h.out.printf("[%s] %s\n", stream, r.Message)
		return nil
	case !h.verbose && logger == "snakepool.server" && strings.HasPrefix(r.Message, "cannot start adapter"):
		return nil // call prints the adapter's error with its traceback itself (printStartError)
	case strings.HasPrefix(logger, "snakepool.tool"):
		if r.Level < slog.LevelInfo && !h.verbose {
			return nil
		}
	case r.Level < slog.LevelWarn && !h.verbose:
		return nil
	}
	source := "pool"
	if logger != "" {
		source = logger
	}
	line := fmt.Sprintf("[%s %s] %s", source, r.Level, r.Message)
	if len(extra) > 0 {
		line += " " + strings.Join(extra, " ")
	}
	h.out.printf("%s\n", line)
	return nil
}

func (h *poolLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup flattens groups: the pool logs no nested attributes worth grouping on one line.
func (h *poolLog) WithGroup(string) slog.Handler { return h }

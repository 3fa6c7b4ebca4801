package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"golang.org/x/term"

	"github.com/snakepool/snakepool/workflows"
)

// display shows the progress of a pipeline.
type display interface {
	// show shows p, or that it is unavailable (err).
	show(p workflows.Progress, err error)
	// finish ends the display (the bar's line).
	finish()
}

// newDisplay returns the display of a --progress mode on stderr; nil for none.
func newDisplay(mode string, stderr io.Writer) display {
	f, isFile := stderr.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	switch {
	case mode == progressNone:
		return nil
	case mode == progressBar || (mode == progressAuto && tty):
		width := func() int { return 80 }
		if tty {
			width = func() int {
				if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
					return w
				}
				return 80
			}
		}
		return &barDisplay{w: stderr, width: width}
	default:
		return &linesDisplay{w: stderr}
	}
}

// barDisplay redraws one line in place: "\r", the line, then "erase to the end of the line".
type barDisplay struct {
	w     io.Writer
	width func() int
	drawn bool
}

func (d *barDisplay) show(p workflows.Progress, err error) {
	line := barLine(p, err, d.width()-1)
	fmt.Fprintf(d.w, "\r%s\x1b[K", line)
	d.drawn = true
}

func (d *barDisplay) finish() {
	if d.drawn {
		fmt.Fprintln(d.w)
	}
}

// linesDisplay writes a line each time the progress changes: for logs and pipes.
type linesDisplay struct {
	w    io.Writer
	last string
}

func (d *linesDisplay) show(p workflows.Progress, err error) {
	var line string
	if err != nil {
		line = "progress: unavailable: " + err.Error()
	} else {
		line = fmt.Sprintf("progress: %3d%% %s", percent(p), summary(p))
	}
	if line != d.last {
		fmt.Fprintln(d.w, line)
		d.last = line
	}
}

func (d *linesDisplay) finish() {}

// barWidth is the number of cells of the bar itself.
const barWidth = 24

// barLine renders the progress bar line, cut to width runes.
func barLine(p workflows.Progress, err error, width int) string {
	if err != nil {
		return truncateRunes("waiting for the progress: "+err.Error(), width)
	}
	pct := percent(p)
	filled := pct * barWidth / 100
	bar := strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled)
	return truncateRunes(fmt.Sprintf("%s %3d%% %s", bar, pct, summary(p)), width)
}

// percent is the share of the calls done (of the steps done when no call is known yet).
func percent(p workflows.Progress) int {
	if p.Status == workflows.StatusDone {
		return 100
	}
	switch {
	case p.Calls.Total > 0:
		return min(100, p.Calls.Done*100/p.Calls.Total)
	case p.Total > 0:
		return p.Done * 100 / p.Total
	default:
		return 0
	}
}

// maxRunningShown bounds the running steps named in a progress line.
const maxRunningShown = 3

// summary describes the progress in one line: calls, steps, and the running steps with their
// items, latest heartbeat, attempt and last failure.
func summary(p workflows.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d calls · steps %d/%d done", p.Calls.Done, p.Calls.Total, p.Done, p.Total)
	if p.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", p.Failed)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", p.Skipped)
	}
	if p.Status != workflows.StatusRunning {
		fmt.Fprintf(&b, " · %s", p.Status)
		return b.String()
	}
	var running []string
	for _, s := range p.Steps {
		if s.Status != workflows.StatusRunning || (s.Kind != "tool" && s.Kind != "map" && s.Kind != "sleep" && s.Kind != "wait") {
			continue
		}
		running = append(running, describeRunning(s))
	}
	if len(running) > maxRunningShown {
		running = append(running[:maxRunningShown], fmt.Sprintf("+%d more", len(running)-maxRunningShown))
	}
	if len(running) > 0 {
		fmt.Fprintf(&b, " · running: %s", strings.Join(running, "; "))
	}
	return b.String()
}

func describeRunning(s workflows.StepProgress) string {
	label := s.Name
	if label == "" {
		label = s.Path
	}
	var b strings.Builder
	b.WriteString(label)
	switch s.Kind {
	case "wait":
		fmt.Fprintf(&b, " waiting for signal %q", s.Signal)
	case "sleep":
		b.WriteString(" sleeping")
	}
	if s.Items != nil {
		fmt.Fprintf(&b, " %d/%d", s.Items.Done, s.Items.Total)
	}
	if s.Attempt > 1 {
		fmt.Fprintf(&b, " attempt %d", s.Attempt)
	}
	if s.Heartbeat != nil && string(s.Heartbeat) != "null" {
		fmt.Fprintf(&b, " hb %s", truncateRunes(compactJSON(s.Heartbeat), 40))
	}
	if s.HeartbeatProgress != nil {
		fmt.Fprintf(&b, " %.0f%%", *s.HeartbeatProgress*100)
	}
	if s.LastFailure != "" {
		fmt.Fprintf(&b, " (last failure: %s)", truncateRunes(s.LastFailure, 60))
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	if n <= 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// progressWatcher polls a pipeline's progress and shows it until stopped.
type progressWatcher struct {
	ctx      context.Context
	c        client.Client
	id, run  string
	display  display
	cancel   context.CancelFunc
	stopped  chan struct{}
	interval time.Duration
	// taskQueue is the workflow task queue, named when no worker answers.
	taskQueue string
}

// watchProgress shows the progress now and then every interval, until stop.
func watchProgress(ctx context.Context, c client.Client, workflowID, runID, taskQueue string, interval time.Duration, d display) *progressWatcher {
	pctx, cancel := context.WithCancel(ctx)
	w := &progressWatcher{ctx: pctx, c: c, id: workflowID, run: runID, display: d, cancel: cancel,
		stopped: make(chan struct{}), interval: interval, taskQueue: taskQueue}
	go w.loop()
	return w
}

func (w *progressWatcher) loop() {
	defer close(w.stopped)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		p, err := w.poll(w.ctx)
		if w.ctx.Err() != nil {
			return // stopped: a poll cut short shows nothing
		}
		w.display.show(p, err)
		select {
		case <-w.ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// pollTimeout bounds one poll: the query waits for a worker that runs the Pipeline workflow.
func (w *progressWatcher) pollTimeout() time.Duration { return max(5*time.Second, 3*w.interval) }

func (w *progressWatcher) poll(ctx context.Context) (workflows.Progress, error) {
	pctx, cancel := context.WithTimeout(ctx, w.pollTimeout())
	defer cancel()
	p, err := workflows.DescribeProgress(pctx, w.c, w.id, w.run)
	var deadline *serviceerror.DeadlineExceeded
	if err != nil && ctx.Err() == nil && (errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded)) {
		// The query is answered by a worker that runs the Pipeline workflow; none did in time.
		return p, fmt.Errorf("no answer to the progress query: is a snakepool worker running on task queue %q?", w.taskQueue)
	}
	return p, err
}

// stop ends the polling; with final, it shows the pipeline's final progress first.
func (w *progressWatcher) stop(final bool) {
	w.cancel()
	<-w.stopped
	if final {
		p, err := w.poll(context.Background())
		if err == nil {
			w.display.show(p, nil)
		}
	}
	w.display.finish()
}

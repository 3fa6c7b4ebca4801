package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/workflows"
)

// row is the outcome of one scenario: what was submitted and how each unit (a map item, a call)
// ended. Every unit ends in exactly one of completed (the expected value), wrong (another value),
// failed (an error, counted by its reason) or lost (no outcome within the scenario's bound).
type row struct {
	name      string
	submitted int
	completed int
	failed    map[string]int // by reason: the Python type, WorkerCrashed, cancelled, ...
	lost      int
	wrong     int
	orphans   int
	recover   time.Duration // -1: not applicable
	recovery  string        // what recover measures
	note      string
	// expectFailed are the failures the scenario provokes on purpose (a poison input, a cancel).
	expectFailed map[string]int
	// problems are the scenario's own checks that did not hold.
	problems []string
	aborted  bool // the scenario stopped early (its test failed)
}

func newRow(name string) *row {
	return &row{name: name, failed: map[string]int{}, expectFailed: map[string]int{}, recover: -1}
}

func (r *row) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// ok reports whether the scenario held: nothing lost, wrong or orphaned, exactly the failures it
// provoked, every unit accounted for, and its own checks.
func (r *row) ok() bool {
	return !r.aborted && r.lost == 0 && r.wrong == 0 && r.orphans == 0 && len(r.problems) == 0 &&
		maps.Equal(r.failed, r.expectFailed) &&
		r.completed+r.wrong+r.lost+sum(r.failed) == r.submitted
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// value checks one result of item: {"item": item, "value": expected(item)}.
func (r *row) value(item int, raw json.RawMessage) {
	var got map[string]json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&got) != nil || len(got) != 2 || got["item"].String() != fmt.Sprint(item) ||
		got["value"].String() != fmt.Sprint(expected(item)) {
		r.wrong++
		if r.wrong <= 3 {
			r.problem("item %d: got %s, want {\"item\": %d, \"value\": %d}", item, raw, item, expected(item))
		}
		return
	}
	r.completed++
}

// expected is the value the chaos adapter's tools return for item (chaos_adapter.expected).
func expected(item int) int64 { return (int64(item) * 2654435761) % 4294967296 }

// collected checks the result of a map with on_error "collect" over items.
func (r *row) collected(items []int, raw json.RawMessage) {
	var entries []workflows.MapEntry
	if err := json.Unmarshal(raw, &entries); err != nil || len(entries) != len(items) {
		r.problem("the map's result is not %d collected entries: %v %.200s", len(items), err, raw)
		r.lost += len(items)
		return
	}
	for i, e := range entries {
		switch {
		case e.OK:
			r.value(items[i], e.Value)
		case e.Error != nil:
			r.failed[e.Error.Type]++
		default:
			r.wrong++
		}
	}
}

// unsettled counts n units whose pipeline or call ended in err: failed by its reason, or lost
// when it did not end within the bound.
func (r *row) unsettled(n int, err error) {
	reason := reasonOf(err)
	if reason == "lost" {
		r.lost += n
		r.problem("no outcome within the bound: %v", err)
		return
	}
	r.failed[reason] += n
	if r.expectFailed[reason] == 0 {
		r.problem("%s", strings.SplitN(err.Error(), "\n", 2)[0])
	}
}

// reasonOf names a failure by its innermost error: "cancelled", "timeout (<kind>)", or the
// ApplicationError's type (the Python type, WorkerCrashed, ...); "lost" when the workflow itself
// timed out (its execution timeout is the scenario's bound) or the wait for it passed the bound.
func reasonOf(err error) string {
	if errors.Is(err, errDeadline) || errors.Is(err, context.DeadlineExceeded) {
		return "lost"
	}
	var wfErr *temporal.WorkflowExecutionError
	if errors.As(err, &wfErr) {
		var timeout *temporal.TimeoutError
		if errors.As(wfErr.Unwrap(), &timeout) && errors.Unwrap(wfErr) == error(timeout) {
			return "lost"
		}
	}
	reason := "error"
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e := e.(type) {
		case *temporal.ApplicationError:
			if e.Type() != "" {
				reason = e.Type()
			}
		case *temporal.TimeoutError:
			reason = "timeout (" + e.TimeoutType().String() + ")"
		case *temporal.CanceledError:
			reason = "cancelled"
		}
	}
	return reason
}

// errDeadline marks a wait that the scenario's bound cut short.
var errDeadline = errors.New("the scenario's bound passed")

// printTable writes the rows as a table.
func printTable(w io.Writer, rows []*row, took time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tsubmitted\tcompleted\tfailed (reason)\tlost\twrong\torphans\trecover\tresult")
	for _, r := range rows {
		failed := "0"
		if len(r.failed) > 0 {
			var parts []string
			for _, reason := range slices.Sorted(maps.Keys(r.failed)) {
				parts = append(parts, fmt.Sprintf("%d %s", r.failed[reason], reason))
			}
			failed = strings.Join(parts, ", ")
		}
		recover := "-"
		if r.recover >= 0 {
			recover = r.recover.Round(10 * time.Millisecond).String()
			if r.recover >= time.Second {
				recover = r.recover.Round(100 * time.Millisecond).String()
			}
		}
		result := "ok"
		switch {
		case r.aborted:
			result = "ABORTED"
		case !r.ok():
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n",
			r.name, r.submitted, r.completed, failed, r.lost, r.wrong, r.orphans, recover, result)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "took %s\n", took.Round(time.Second))
	for _, r := range rows {
		fmt.Fprintf(w, "%s: %s", r.name, r.note)
		if r.recovery != "" {
			fmt.Fprintf(w, " (recover: %s)", r.recovery)
		}
		fmt.Fprintln(w)
		for _, p := range r.problems {
			fmt.Fprintf(w, "    problem: %s\n", p)
		}
	}
}

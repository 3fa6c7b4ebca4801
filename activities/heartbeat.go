package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/snakepool/snakepool/pools"
)

// The heartbeat details of a tool's activity (contract C5) are, in order:
//
//  1. the tool's JSON details (null when it never gave any): what the next attempt's ctx.resume
//     gets;
//  2. the tool's progress in [0, 1], when it gave one;
//  3. snakepool's own bookkeeping, {"snakepool": {...}} (see bookkeeping), when there is any:
//     one trailing value, so that the tool's details keep their place.
//
// The Web UI shows them all; the SDK flushes the last recorded ones to the server before it
// reports a failed attempt, and the server hands them to the next attempt.

// bookkeepingKey is the only key of the trailing bookkeeping value.
const bookkeepingKey = "snakepool"

// bookkeeping is snakepool's own state of an activity across its attempts.
type bookkeeping struct {
	// CrashedAttempts counts the attempts that ended because their Python worker crashed (see
	// Options.MaxCrashedAttempts); in a batch, the attempts that crashed at item Batch.CrashedItem.
	CrashedAttempts int `json:"crashed_attempts,omitempty"`
	// LastCrash says how the last of them ended, e.g. "signal segmentation fault (SIGSEGV)".
	LastCrash string `json:"last_crash,omitempty"`
	// Batch is the progress of a batch activity (BatchActivityName); nil for a tool's activity.
	Batch *batchProgress `json:"batch,omitempty"`
}

func (b bookkeeping) isZero() bool {
	return b.CrashedAttempts == 0 && b.LastCrash == "" && b.Batch == nil
}

// batchProgress is where a batch got to, as its heartbeats record it (see batch.go).
type batchProgress struct {
	// Next is the first item whose outcome is not in Results: a retried attempt starts there.
	Next int `json:"next"`
	// Reached counts the items that had ended when the heartbeat was sent; more than Next when the
	// outcomes of all of them did not fit the payload limit (informative).
	Reached int `json:"reached"`
	// Results are the outcomes of the items before Next, as the batch's result holds them: a JSON
	// array.
	Results json.RawMessage `json:"results"`
	// DetailsItem is the item whose tool details the heartbeat's first value holds; absent when
	// it holds none. Only the item at Next gets them as ctx.resume.
	DetailsItem *int `json:"details_item,omitempty"`
	// CrashedItem is the item that was running in the attempts counted by CrashedAttempts.
	CrashedItem *int `json:"crashed_item,omitempty"`
}

// trailer is the heartbeat value that carries the bookkeeping.
type trailer struct {
	Snakepool bookkeeping `json:"snakepool"`
}

// previous is what an attempt reads of the previous attempt's last heartbeat.
type previous struct {
	// resume is the tool's JSON details for ctx.resume; nil when there are none, or null.
	resume json.RawMessage
	// values are the tool's heartbeat values (details, progress), re-sent until the tool
	// heartbeats, so that a second failure does not lose them; nil when there are none.
	values []any
	// book is the bookkeeping.
	book bookkeeping
}

// previousHeartbeat reads the previous attempt's last heartbeat details.
func previousHeartbeat(ctx context.Context) previous {
	if !activity.HasHeartbeatDetails(ctx) {
		return previous{}
	}
	var raws [3]converter.RawValue
	if err := activity.GetHeartbeatDetails(ctx, &raws[0], &raws[1], &raws[2]); err != nil || raws[0].Payload() == nil {
		activity.GetLogger(ctx).Warn("Ignoring unreadable heartbeat details of the previous attempt", "error", err)
		return previous{}
	}
	n := 1
	for n < len(raws) && raws[n].Payload() != nil {
		n++
	}
	prev, err := parsePrevious(raws[:n])
	if err != nil {
		activity.GetLogger(ctx).Warn("The previous attempt's heartbeat details are not JSON; the tool gets no ctx.resume", "error", err)
	}
	return prev
}

// parsePrevious splits heartbeat values (at least one) into the tool's values, its resume
// details and the bookkeeping trailer. An error says the tool's details are not JSON (they are
// still re-sent, but are no ctx.resume).
func parsePrevious(raws []converter.RawValue) (previous, error) {
	var prev previous
	n := len(raws)
	if n > 1 {
		if book, ok := decodeTrailer(raws[n-1]); ok {
			prev.book = book
			n--
		}
	}
	for _, raw := range raws[:n] {
		prev.values = append(prev.values, raw)
	}
	var details json.RawMessage
	if err := converter.GetDefaultDataConverter().FromPayload(raws[0].Payload(), &details); err != nil {
		return prev, err
	}
	if string(bytes.TrimSpace(details)) != "null" {
		prev.resume = details
	}
	return prev, nil
}

// decodeTrailer reads a heartbeat value as the bookkeeping trailer: a JSON object whose only key
// is "snakepool".
func decodeTrailer(raw converter.RawValue) (bookkeeping, bool) {
	var obj map[string]json.RawMessage
	if err := converter.GetDefaultDataConverter().FromPayload(raw.Payload(), &obj); err != nil || len(obj) != 1 {
		return bookkeeping{}, false
	}
	inner, ok := obj[bookkeepingKey]
	if !ok {
		return bookkeeping{}, false
	}
	var book bookkeeping
	if err := json.Unmarshal(inner, &book); err != nil {
		return bookkeeping{}, false
	}
	return book, true
}

// heartbeatDetails are the tool's part of a heartbeat: its JSON details (null when it never gave
// any), then its progress when it gave one.
func heartbeatDetails(details json.RawMessage, progress float64) []any {
	if len(details) == 0 {
		details = json.RawMessage("null")
	}
	if progress < 0 {
		return []any{details}
	}
	return []any{details, progress}
}

// heartbeater records the heartbeats of one running call with activity.RecordHeartbeat, from a
// goroutine of its own so that a slow heartbeat RPC never holds up the call's event loop: the
// tool's heartbeats as they come, and the latest details again every interval while the call
// runs. The automatic heartbeat is what delivers Temporal's cancellation to the activity (the
// SDK cancels ctx when a heartbeat's response says so) and what keeps the HeartbeatTimeout from
// firing while a tool that never heartbeats runs.
type heartbeater struct {
	ctx  context.Context
	send func(values ...any) // activity.RecordHeartbeat

	mu sync.Mutex
	// values are the tool's part of the next heartbeat: its latest, or the previous attempt's
	// until the tool heartbeats, or nothing.
	values []any
	// book is the bookkeeping, sent as the trailing value when it is not zero.
	book bookkeeping
	// details are the last non-empty details the tool gave: a heartbeat without details (a
	// progress report) keeps them, so that it does not wipe a checkpoint.
	details json.RawMessage
	// batch is the state of a batch's heartbeats (see batchbeat.go); nil for a tool's call.
	batch *batchBeat

	fresh   chan struct{} // a tool heartbeat is waiting (1-buffered)
	done    chan struct{} // closed by stop
	stopped chan struct{} // closed when the goroutine has returned
}

// startHeartbeats starts the heartbeats of a call, recorded with send; prev holds the previous
// attempt's heartbeat values, re-sent until the tool heartbeats (nil: none), and the bookkeeping,
// always sent. Nothing is sent once ctx is done.
func startHeartbeats(ctx context.Context, interval time.Duration, prev previous, send func(values ...any)) *heartbeater {
	h := newHeartbeater(ctx, prev, send)
	go h.run(interval)
	return h
}

func newHeartbeater(ctx context.Context, prev previous, send func(values ...any)) *heartbeater {
	return &heartbeater{
		ctx:     ctx,
		send:    send,
		values:  prev.values,
		book:    prev.book,
		fresh:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// record takes a heartbeat of the tool. It does not block.
func (h *heartbeater) record(hb pools.Heartbeat) {
	h.mu.Lock()
	if len(hb.Details) > 0 {
		h.details = hb.Details
	}
	if h.batch != nil {
		h.batch.record(hb)
	} else {
		h.values = heartbeatDetails(h.details, hb.Progress)
	}
	h.mu.Unlock()
	select {
	case h.fresh <- struct{}{}:
	default: // the goroutine will send the latest values anyway
	}
}

// stop ends the automatic heartbeats once the call has returned; a tool heartbeat not sent yet is
// sent first (the SDK flushes it to the server if the activity fails, for the next attempt).
func (h *heartbeater) stop() {
	close(h.done)
	<-h.stopped
}

func (h *heartbeater) run(interval time.Duration) {
	defer close(h.stopped)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	ctxDone := h.ctx.Done()
	for {
		select {
		case <-h.fresh:
		case <-ticker.C:
		case <-ctxDone:
			// Cancelled or timed out: the SDK refuses heartbeats now; wait for the call to end.
			<-h.done
			return
		case <-h.done:
			select {
			case <-h.fresh:
				h.beat()
			default:
			}
			return
		}
		h.beat()
	}
}

func (h *heartbeater) beat() {
	h.mu.Lock()
	values := h.valuesLocked()
	h.mu.Unlock()
	h.send(values...)
}

// valuesLocked are the values of the next heartbeat: the tool's, then the bookkeeping trailer.
// Under h.mu.
func (h *heartbeater) valuesLocked() []any {
	if h.batch != nil {
		return h.batch.values(h.details, h.book)
	}
	if h.book.isZero() {
		return h.values
	}
	values := append([]any(nil), h.values...)
	if len(values) == 0 {
		values = append(values, json.RawMessage("null"))
	}
	return append(values, trailer{Snakepool: h.book})
}

// recordCrash counts a crashed attempt in the bookkeeping and records it at once, so that the
// next attempt, on any machine, reads the count. Call it after stop. It returns the bookkeeping.
func (h *heartbeater) recordCrash(how string) bookkeeping {
	h.mu.Lock()
	h.book.CrashedAttempts++
	h.book.LastCrash = how
	book, values := h.book, h.valuesLocked()
	h.mu.Unlock()
	h.send(values...)
	return book
}

// flush records the latest values at once, e.g. a batch's progress before its attempt fails.
// Call it after stop.
func (h *heartbeater) flush() {
	h.mu.Lock()
	values := h.valuesLocked()
	h.mu.Unlock()
	h.send(values...)
}

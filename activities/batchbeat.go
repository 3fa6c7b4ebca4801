package activities

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/snakepool/snakepool/pools"
)

// The heartbeats of a batch (contract C5) are [the running item's tool details (or null), the
// batch's progress in [0, 1], {"snakepool": {..., "batch": batchProgress}}]: the trailer carries
// the outcomes of the items ended so far, so that a retried attempt starts after the last one it
// records and keeps their outcomes. An item's end is not sent at once (the automatic heartbeat and
// the tool's own carry it, and an attempt that fails sends it last, see heartbeater.flush), so a
// batch of quick items costs no heartbeat per item.

// batchHeartbeatMargin is the room a batch heartbeat keeps, under the payload limit, for
// everything but the tool's details and the outcomes: the progress, the bookkeeping's other
// fields, the payloads' metadata.
const batchHeartbeatMargin = 1024

// batchBeat is what a batch's heartbeats carry besides the tool's details. It is guarded by the
// heartbeater's mutex.
type batchBeat struct {
	// total is the number of items in the batch.
	total int
	// outcomes is `[o0,o1,...` without the closing bracket: the outcomes of the items ended so
	// far, in item order; ends[i] is len(outcomes) once item i's is in.
	outcomes []byte
	ends     []int
	// limit is the payload limit of one heartbeat (negative: none).
	limit int
	// detailsItem is the item whose details the heartbeater holds; -1: none.
	detailsItem int
	// itemProgress is the running item's own progress, 0 when it gave none.
	itemProgress float64
	// crashedItem is the item that was running in the crashed attempts the bookkeeping counts;
	// -1: none.
	crashedItem int
}

// startBatchHeartbeats starts the heartbeats of a batch of total items whose first len(done)
// outcomes are done already (a resumed batch); prev is the previous attempt's heartbeat, whose
// tool details are re-sent (and are the running item's) only when they belong to the first item
// to run. limit is the payload limit (negative: none).
func startBatchHeartbeats(ctx context.Context, interval time.Duration, prev previous, total int, done []json.RawMessage,
	limit int, send func(values ...any)) *heartbeater {
	h := newHeartbeater(ctx, prev, send)
	b := &batchBeat{total: total, outcomes: []byte("["), limit: limit, detailsItem: -1, crashedItem: -1}
	for _, o := range done {
		b.add(o)
	}
	if p := prev.book.Batch; p != nil {
		if p.DetailsItem != nil && *p.DetailsItem == len(done) && prev.resume != nil {
			h.details, b.detailsItem = prev.resume, len(done)
		}
		if p.CrashedItem != nil {
			b.crashedItem = *p.CrashedItem
		}
	}
	h.values, h.book.Batch = nil, nil // rebuilt by batchBeat.values
	h.batch = b
	go h.run(interval)
	return h
}

// add appends the outcome of the next item.
func (b *batchBeat) add(outcome json.RawMessage) {
	if len(b.ends) > 0 {
		b.outcomes = append(b.outcomes, ',')
	}
	b.outcomes = append(b.outcomes, outcome...)
	b.ends = append(b.ends, len(b.outcomes))
}

// record takes a tool heartbeat of the item hb.Item (the heartbeater has taken its details).
func (b *batchBeat) record(hb pools.Heartbeat) {
	if len(hb.Details) > 0 {
		b.detailsItem = hb.Item
	}
	if hb.Progress >= 0 {
		b.itemProgress = hb.Progress
	}
}

// values are the values of a heartbeat: details (the running item's, or null), the progress, and
// the bookkeeping with the longest prefix of outcomes that fits the limit.
func (b *batchBeat) values(details json.RawMessage, book bookkeeping) []any {
	if len(details) == 0 || b.detailsItem < 0 {
		details = json.RawMessage("null")
	}
	progress := 1.0
	if b.total > 0 {
		progress = min(1, (float64(len(b.ends))+b.itemProgress)/float64(b.total))
	}
	room := -1
	if b.limit >= 0 {
		room = b.limit - len(details) - batchHeartbeatMargin
	}
	next := len(b.ends)
	if room >= 0 {
		// The outcomes of items [0, n) take ends[n-1]+1 bytes with the closing bracket.
		next = sort.Search(len(b.ends), func(n int) bool { return b.ends[n]+1 > room })
	}
	results := []byte("[]")
	if next > 0 {
		results = append(append(make([]byte, 0, b.ends[next-1]+1), b.outcomes[:b.ends[next-1]]...), ']')
	}
	p := &batchProgress{Next: next, Reached: len(b.ends), Results: results}
	if b.detailsItem >= 0 {
		item := b.detailsItem
		p.DetailsItem = &item
	}
	if b.crashedItem >= 0 && book.CrashedAttempts > 0 {
		item := b.crashedItem
		p.CrashedItem = &item
	}
	book.Batch = p
	return []any{details, progress, trailer{Snakepool: book}}
}

// itemEnded takes the outcome of the next item: the running item's details and progress are
// dropped, as the next item starts afresh.
func (h *heartbeater) itemEnded(outcome json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batch.add(outcome)
	h.details, h.batch.detailsItem, h.batch.itemProgress = nil, -1, 0
}

// countBatchCrash counts an attempt whose worker crashed while item ran (the next heartbeat, or
// flush, records it): the count is of the attempts that crashed at that item, and starts over at
// another item, so that crashes spread over a long batch (the OOM killer, a machine restarted) do
// not add up to a poison input. It returns the bookkeeping.
func (h *heartbeater) countBatchCrash(how string, item int) bookkeeping {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.batch.crashedItem != item {
		h.book.CrashedAttempts = 0
	}
	h.batch.crashedItem = item
	h.book.CrashedAttempts++
	h.book.LastCrash = how
	return h.book
}

// forgetCrashes clears the crash count once the item that crashed has its outcome.
func (h *heartbeater) forgetCrashes() {
	h.mu.Lock()
	h.book.CrashedAttempts, h.batch.crashedItem = 0, -1
	h.mu.Unlock()
}

package activities

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/snakepool/snakepool/pools"
)

// sink records what a heartbeater sends.
type sink struct {
	mu      sync.Mutex
	beats   [][]any
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{})} }

func (s *sink) send(values ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beats = append(s.beats, values)
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits (at most 5s) until n heartbeats have been sent, and returns them.
func (s *sink) waitFor(t *testing.T, n int) [][]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		beats, ch := append([][]any(nil), s.beats...), s.changed
		s.mu.Unlock()
		if len(beats) >= n {
			return beats
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d heartbeats sent within 5s, want %d: %v", len(beats), n, beats)
		}
	}
}

func (s *sink) all() [][]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]any(nil), s.beats...)
}

// asJSON renders heartbeat values as one JSON array, e.g. [{"epoch":1},0.5].
func asJSON(t *testing.T, values []any) string {
	t.Helper()
	data, err := json.Marshal(values)
	require.NoError(t, err)
	return string(data)
}

// While a tool runs, the activity heartbeats by itself, re-sending the latest details, so that
// cancellations are delivered and a checkpoint is never wiped by a heartbeat without details.
func TestHeartbeater(t *testing.T) {
	tests := []struct {
		name string
		// previous are the previous attempt's heartbeat values (nil: first attempt).
		previous []any
		// book is the previous attempt's bookkeeping.
		book bookkeeping
		// beats are the tool's own heartbeats.
		beats []pools.Heartbeat
		// want is what the automatic heartbeats that follow record, as a JSON array.
		want string
	}{
		{
			name:  "the tool's latest details are re-sent",
			beats: []pools.Heartbeat{{Details: json.RawMessage(`{"epoch":1}`), Progress: 0.1}, {Details: json.RawMessage(`{"epoch":2}`), Progress: 0.2}},
			want:  `[{"epoch":2},0.2]`,
		},
		{
			name:     "the previous attempt's details are kept until the tool heartbeats",
			previous: []any{json.RawMessage(`{"epoch":4,"checkpoint":[1,2]}`), 0.4},
			want:     `[{"epoch":4,"checkpoint":[1,2]},0.4]`,
		},
		{
			name:     "the tool's heartbeat replaces the previous attempt's",
			previous: []any{json.RawMessage(`{"epoch":4}`)},
			beats:    []pools.Heartbeat{{Details: json.RawMessage(`{"epoch":5}`), Progress: -1}},
			want:     `[{"epoch":5}]`,
		},
		{
			name:  "a heartbeat without details keeps the last details",
			beats: []pools.Heartbeat{{Details: json.RawMessage(`{"epoch":3}`), Progress: -1}, {Progress: 0.5}},
			want:  `[{"epoch":3},0.5]`,
		},
		{
			name:  "a first heartbeat without details records null",
			beats: []pools.Heartbeat{{Progress: -1}},
			want:  `[null]`,
		},
		{
			name: "a tool that never heartbeats gets heartbeats without values",
			want: `null`,
		},
		{
			name:     "the bookkeeping trails the tool's values",
			previous: []any{json.RawMessage(`{"epoch":4}`), 0.4},
			book:     bookkeeping{CrashedAttempts: 1, LastCrash: "signal killed"},
			beats:    []pools.Heartbeat{{Details: json.RawMessage(`{"epoch":5}`), Progress: 0.5}},
			want:     `[{"epoch":5},0.5,{"snakepool":{"crashed_attempts":1,"last_crash":"signal killed"}}]`,
		},
		{
			name: "the bookkeeping of a tool that never heartbeats follows a null",
			book: bookkeeping{CrashedAttempts: 2, LastCrash: "exit code 7"},
			want: `[null,{"snakepool":{"crashed_attempts":2,"last_crash":"exit code 7"}}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink()
			h := startHeartbeats(context.Background(), 10*time.Millisecond, previous{values: tt.previous, book: tt.book}, s.send)
			for _, hb := range tt.beats {
				h.record(hb)
			}
			before := len(s.all())
			s.waitFor(t, before+3)
			h.stop()
			beats := s.all()
			for _, values := range beats[before:] {
				assert.JSONEq(t, tt.want, asJSON(t, values))
			}
		})
	}
}

// The tool's last heartbeat is sent before the call's error is returned, even if the automatic
// heartbeat's period has not come.
func TestHeartbeaterFlushesTheLastHeartbeat(t *testing.T) {
	s := newSink()
	h := startHeartbeats(context.Background(), time.Hour, previous{}, s.send)
	h.record(pools.Heartbeat{Details: json.RawMessage(`{"epoch":7}`), Progress: -1})
	h.stop()
	beats := s.all()
	require.NotEmpty(t, beats)
	assert.JSONEq(t, `[{"epoch":7}]`, asJSON(t, beats[len(beats)-1]))
}

// Once the activity's context is done (cancelled, timed out), nothing more is sent: the SDK
// refuses heartbeats then.
func TestHeartbeaterStopsWhenTheContextEnds(t *testing.T) {
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	h := startHeartbeats(ctx, time.Millisecond, previous{}, s.send)
	s.waitFor(t, 1)
	cancel()
	n := len(s.all())
	h.record(pools.Heartbeat{Details: json.RawMessage(`1`), Progress: -1})
	// A window of 100 periods: a heartbeater that went on would send about 100 heartbeats.
	time.Sleep(100 * time.Millisecond)
	h.stop()
	assert.LessOrEqual(t, len(s.all()), n+1, "at most the heartbeat under way when ctx ended")
}

// A crashed attempt is counted in the bookkeeping and recorded at once, after the tool's last
// details.
func TestHeartbeaterRecordsCrashes(t *testing.T) {
	s := newSink()
	h := startHeartbeats(context.Background(), time.Hour, previous{book: bookkeeping{CrashedAttempts: 1, LastCrash: "signal killed"}}, s.send)
	h.record(pools.Heartbeat{Details: json.RawMessage(`{"epoch":7}`), Progress: -1})
	h.stop()
	book := h.recordCrash("signal segmentation fault (SIGSEGV)")
	assert.Equal(t, bookkeeping{CrashedAttempts: 2, LastCrash: "signal segmentation fault (SIGSEGV)"}, book)
	beats := s.all()
	require.NotEmpty(t, beats)
	assert.JSONEq(t, `[{"epoch":7},{"snakepool":{"crashed_attempts":2,"last_crash":"signal segmentation fault (SIGSEGV)"}}]`,
		asJSON(t, beats[len(beats)-1]))
}

// The previous attempt's heartbeat values split into the tool's values (re-sent), its resume
// details and snakepool's trailing bookkeeping; a tool object that merely looks similar is not
// taken for the bookkeeping.
func TestParsePrevious(t *testing.T) {
	tests := []struct {
		name       string
		values     []any
		wantResume string // "" for none
		wantValues int
		wantBook   bookkeeping
	}{
		{"details only", []any{json.RawMessage(`{"epoch":2}`)}, `{"epoch":2}`, 1, bookkeeping{}},
		{"details and progress", []any{json.RawMessage(`{"epoch":2}`), 0.2}, `{"epoch":2}`, 2, bookkeeping{}},
		{"null details", []any{json.RawMessage(`null`)}, "", 1, bookkeeping{}},
		{
			"details, progress and bookkeeping",
			[]any{json.RawMessage(`{"epoch":2}`), 0.2, json.RawMessage(`{"snakepool":{"crashed_attempts":2,"last_crash":"signal killed"}}`)},
			`{"epoch":2}`, 2, bookkeeping{CrashedAttempts: 2, LastCrash: "signal killed"},
		},
		{
			"bookkeeping after null details",
			[]any{json.RawMessage(`null`), json.RawMessage(`{"snakepool":{"crashed_attempts":1}}`)},
			"", 1, bookkeeping{CrashedAttempts: 1},
		},
		{
			"a first value is the tool's even if it looks like bookkeeping",
			[]any{json.RawMessage(`{"snakepool":{"crashed_attempts":5}}`)},
			`{"snakepool":{"crashed_attempts":5}}`, 1, bookkeeping{},
		},
		{
			"an object with other keys is not bookkeeping",
			[]any{json.RawMessage(`null`), json.RawMessage(`{"snakepool":{},"other":1}`)},
			"", 2, bookkeeping{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raws := make([]converter.RawValue, len(tt.values))
			for i, v := range tt.values {
				p, err := converter.GetDefaultDataConverter().ToPayload(v)
				require.NoError(t, err)
				raws[i] = converter.NewRawValue(p)
			}
			prev, err := parsePrevious(raws)
			require.NoError(t, err)
			if tt.wantResume == "" {
				assert.Empty(t, prev.resume)
			} else {
				assert.JSONEq(t, tt.wantResume, string(prev.resume))
			}
			assert.Len(t, prev.values, tt.wantValues)
			assert.Equal(t, tt.wantBook, prev.book)
		})
	}
}

func TestHeartbeatInterval(t *testing.T) {
	tests := []struct {
		name             string
		heartbeatTimeout time.Duration
		interval         time.Duration
		want             time.Duration
	}{
		{"no heartbeat timeout", 0, 10 * time.Second, 10 * time.Second},
		{"a third of a short heartbeat timeout", 3 * time.Second, 10 * time.Second, time.Second},
		{"the interval when shorter", time.Hour, 10 * time.Second, 10 * time.Second},
		{"never below 10ms", 3 * time.Millisecond, 10 * time.Second, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, heartbeatInterval(tt.heartbeatTimeout, tt.interval))
		})
	}
}

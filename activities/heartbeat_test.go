package activities

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink()
			h := startHeartbeats(context.Background(), 10*time.Millisecond, tt.previous, s.send)
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
	h := startHeartbeats(context.Background(), time.Hour, nil, s.send)
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
	h := startHeartbeats(ctx, time.Millisecond, nil, s.send)
	s.waitFor(t, 1)
	cancel()
	n := len(s.all())
	h.record(pools.Heartbeat{Details: json.RawMessage(`1`), Progress: -1})
	// A window of 100 periods: a heartbeater that went on would send about 100 heartbeats.
	time.Sleep(100 * time.Millisecond)
	h.stop()
	assert.LessOrEqual(t, len(s.all()), n+1, "at most the heartbeat under way when ctx ended")
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

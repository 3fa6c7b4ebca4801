package pools

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// pythonEnd returns both ends of a new channel (name: "calls" or "control"), the child's as a
// net.Conn.
func pythonEnd(t testing.TB, name string) (net.Conn, net.Conn) {
	t.Helper()
	ours, child, err := newChannel(name)
	require.NoError(t, err)
	theirs, err := net.FileConn(child)
	require.NoError(t, err)
	child.Close()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	return ours, theirs
}

// TestFrames: what the Go side writes is a 4-byte big-endian length and the message; what it
// reads is checked against its limit and for truncation, with an error that says what was wrong.
func TestFrames(t *testing.T) {
	event := &bridgev1.SessionEvent{CallId: "c1", Event: &bridgev1.SessionEvent_Result{Result: &bridgev1.Result{ResultJson: []byte("42")}}}
	body, err := proto.Marshal(event)
	require.NoError(t, err)
	frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)

	tests := []struct {
		name    string
		wire    []byte // what Python writes, then closes
		max     int
		wantErr string
	}{
		{"one event", frame, 1 << 20, ""},
		{"over the limit", frame, len(body) - 1, "a frame of 10 bytes is over the 9-byte limit"},
		{"truncated", frame[:len(frame)-2], 1 << 20, "truncated frame"},
		{"not a message", append(binary.BigEndian.AppendUint32(nil, 2), 0xff, 0xff), 1 << 20, "call channel: decode a SessionEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, theirs := pythonEnd(t, "calls")
			go func() { _, _ = theirs.Write(tt.wire); theirs.Close() }()
			var got bridgev1.SessionEvent
			err := newFrameConn("call channel", ours, tt.max).read(&got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, proto.Equal(event, &got))
		})
	}

	t.Run("write", func(t *testing.T) {
		ours, theirs := pythonEnd(t, "calls")
		req := &bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Start{Start: &bridgev1.ExecuteRequest{CallId: "c2", Tool: "noop"}}}
		go func() { _ = newFrameConn("call channel", ours, 1<<20).write(context.Background(), req, time.Second) }()
		var header [4]byte
		_, err := theirs.Read(header[:])
		require.NoError(t, err)
		want, _ := proto.Marshal(req)
		got := make([]byte, binary.BigEndian.Uint32(header[:]))
		_, err = theirs.Read(got)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})

	// A peer that does not read: the write honours its context.
	t.Run("peer not reading", func(t *testing.T) {
		ours, _ := pythonEnd(t, "calls")
		c := newFrameConn("call channel", ours, 1<<20)
		big := make([]byte, 4<<20) // a frame larger than the socket's buffer (its content does not matter)
		small := &bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Start{Start: &bridgev1.ExecuteRequest{CallId: "small"}}}

		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		err := c.write(cancelled, small, time.Second)
		require.ErrorIs(t, err, errNotSent, "a context that ended already sends nothing")
		require.ErrorIs(t, err, context.Canceled)

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = c.writeFrame(ctx, big, 50*time.Millisecond)
		require.ErrorIs(t, err, errHalfSent, "the buffer took part of the frame, the rest could not follow")
		assert.ErrorContains(t, err, "could not follow within 50ms")

		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = c.write(ctx, small, time.Second)
		require.ErrorIs(t, err, errNotSent, "a full buffer takes nothing: the write gives up when its context ends")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

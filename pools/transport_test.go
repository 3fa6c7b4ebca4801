package pools

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// goBridge is an in-process fake of the Python side for testing the Go side alone: it serves the
// call channel's frames and the control channel's requests. noop returns null, beat sends two
// heartbeats, fail raises, block waits for a cancel.
type goBridge struct {
	mu      sync.Mutex
	cancels map[string]chan struct{}
}

// run answers one call, sending its events with send.
func (g *goBridge) run(req *bridgev1.ExecuteRequest, cancelled <-chan struct{}, send func(*bridgev1.SessionEvent)) {
	event := func(ev *bridgev1.SessionEvent) { ev.CallId = req.GetCallId(); send(ev) }
	switch req.GetTool() {
	case "beat":
		for i := range 2 {
			event(&bridgev1.SessionEvent{Event: &bridgev1.SessionEvent_Heartbeat{Heartbeat: &bridgev1.Heartbeat{
				DetailsJson: []byte{'0' + byte(i)}, Progress: -1}}})
		}
	case "fail":
		event(&bridgev1.SessionEvent{Event: &bridgev1.SessionEvent_Error{Error: &bridgev1.Error{Type: "ValueError", Message: "boom"}}})
		return
	case "block":
		<-cancelled
		event(&bridgev1.SessionEvent{Event: &bridgev1.SessionEvent_Error{Error: &bridgev1.Error{Type: "Cancelled", Message: "cancelled"}}})
		return
	}
	event(&bridgev1.SessionEvent{Event: &bridgev1.SessionEvent_Result{Result: &bridgev1.Result{ResultJson: []byte("null")}}})
}

// cancel cancels a blocked call; it reports whether the call was running.
func (g *goBridge) cancel(callID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.cancels[callID]
	if ok {
		close(ch)
		delete(g.cancels, callID)
	}
	return ok
}

// readFrame reads one frame of r into m.
func readFrame(r io.Reader, m proto.Message) error {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(header[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	return proto.Unmarshal(body, m)
}

// frameWriter writes frames to conn, one at a time.
func frameWriter(conn net.Conn) func(proto.Message) {
	var mu sync.Mutex
	return func(m proto.Message) {
		body, _ := proto.Marshal(m)
		mu.Lock()
		defer mu.Unlock()
		_, _ = conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	}
}

// serveControl answers the control requests on conn until it closes: Ping, Cancel, Describe.
func (g *goBridge) serveControl(conn net.Conn) {
	r := bufio.NewReader(conn)
	send := frameWriter(conn)
	for {
		req := new(bridgev1.ControlRequest)
		if err := readFrame(r, req); err != nil {
			return
		}
		resp := &bridgev1.ControlResponse{Id: req.GetId()}
		switch q := req.GetRequest().(type) {
		case *bridgev1.ControlRequest_Ping:
			resp.Response = &bridgev1.ControlResponse_Ping{Ping: &bridgev1.PingResponse{}}
		case *bridgev1.ControlRequest_Cancel:
			resp.Response = &bridgev1.ControlResponse_Cancel{Cancel: &bridgev1.CancelResponse{Found: g.cancel(q.Cancel.GetCallId())}}
		case *bridgev1.ControlRequest_Describe:
			resp.Response = &bridgev1.ControlResponse_Describe{Describe: &bridgev1.DescribeResponse{ProtocolVersion: protocolVersion}}
		default:
			resp.Response = &bridgev1.ControlResponse_Error{Error: &bridgev1.Error{Type: "UnknownRequest"}}
		}
		send(resp)
	}
}

// serveCalls reads Start frames from conn until it closes and answers each call.
func (g *goBridge) serveCalls(conn net.Conn) {
	r := bufio.NewReader(conn)
	write := frameWriter(conn)
	send := func(ev *bridgev1.SessionEvent) { write(ev) }
	for {
		req := new(bridgev1.SessionRequest)
		if err := readFrame(r, req); err != nil {
			return
		}
		start := req.GetStart()
		ch := make(chan struct{})
		g.mu.Lock()
		g.cancels[start.GetCallId()] = ch
		g.mu.Unlock()
		run := func() { g.run(start, ch, send) }
		if start.GetTool() == "block" {
			go run() // the reader must go on
		} else {
			run()
		}
	}
}

// goBridgePool returns a pool of one worker connected to an in-process goBridge (no Python).
func goBridgePool(t testing.TB) *Pool {
	t.Helper()
	bridge := &goBridge{cancels: map[string]chan struct{}{}}
	opts, err := Options{Name: "go", Size: 1, Adapter: "m:C", CancelGrace: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	require.NoError(t, err)
	p := &Pool{opts: opts, log: opts.Logger, changed: make(chan struct{})}
	p.metrics = newPoolMetrics(opts.Metrics, opts.Name, 1)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	w := &worker{pool: p, id: "go-1", slots: 1, log: p.log, exited: make(chan struct{}),
		recycleCh: make(chan string, 1), drained: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	var pythonCalls, pythonControl, controlConn net.Conn
	w.calls, pythonCalls = pythonEnd(t, "calls")
	controlConn, pythonControl = pythonEnd(t, "control")
	go bridge.serveCalls(pythonCalls)
	go bridge.serveControl(pythonControl)
	w.control = newControl(controlConn, opts.CancelGrace)
	w.control.serve(func(error) {})
	require.NoError(t, w.openSession())
	p.workers = []*worker{w}
	t.Cleanup(func() {
		w.cancel()
		w.session.close()
		w.control.close()
		p.cancel()
	})
	return p
}

// TestGoSideSession: the Go side of the call channel, against an in-process fake: results,
// heartbeats in order, tool errors, cancellation (on the control channel).
func TestGoSideSession(t *testing.T) {
	p := goBridgePool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		res, err := p.Call(ctx, Call{Tool: "noop"})
		require.NoError(t, err)
		assert.Equal(t, "null", string(res))
	}
	var beats []string
	_, err := p.Call(ctx, Call{Tool: "beat", OnHeartbeat: func(hb Heartbeat) { beats = append(beats, string(hb.Details)) }})
	require.NoError(t, err)
	assert.Equal(t, []string{"0", "1"}, beats)

	_, err = p.Call(ctx, Call{Tool: "fail"})
	var te *ToolError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "ValueError", te.Type)

	cctx, ccancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer ccancel()
	_, err = p.Call(cctx, Call{Tool: "block", Args: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "Cancelled")
	assert.Equal(t, 1, p.Available())
}

// BenchmarkGoSide measures the Go supervisor's own cost per call, against an in-process fake of
// the Python side (no Python): the floor under BenchmarkNoop.
func BenchmarkGoSide(b *testing.B) { benchSerialNoop(b, goBridgePool(b)) }

package pools

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// goBridge is an in-process fake of the Python side for testing the Go side alone: it serves the
// call channel's frames and the Cancel RPC. noop returns null, beat sends two heartbeats, fail
// raises, block waits for a cancel.
type goBridge struct {
	bridgev1.UnimplementedBridgeServer

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

func (g *goBridge) Cancel(_ context.Context, req *bridgev1.CancelRequest) (*bridgev1.CancelResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.cancels[req.GetCallId()]
	if ok {
		close(ch)
		delete(g.cancels, req.GetCallId())
	}
	return &bridgev1.CancelResponse{Found: ok}, nil
}

// serveCalls reads Start frames from conn until it closes and answers each call.
func (g *goBridge) serveCalls(conn net.Conn) {
	r := bufio.NewReader(conn)
	var wmu sync.Mutex
	send := func(ev *bridgev1.SessionEvent) {
		body, _ := proto.Marshal(ev)
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	}
	for {
		var header [4]byte
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(header[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		req := new(bridgev1.SessionRequest)
		if err := proto.Unmarshal(body, req); err != nil {
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
	sock := filepath.Join(t.TempDir(), "b.sock")
	lis, err := net.Listen("unix", sock)
	require.NoError(t, err)
	bridge := &goBridge{cancels: map[string]chan struct{}{}}
	srv := grpc.NewServer()
	bridgev1.RegisterBridgeServer(srv, bridge)
	go func() { _ = srv.Serve(lis) }()

	opts, err := Options{Name: "go", Size: 1, Adapter: "m:C", CancelGrace: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	require.NoError(t, err)
	p := &Pool{opts: opts, log: opts.Logger, changed: make(chan struct{})}
	p.metrics = newPoolMetrics(opts.Metrics, opts.Name, 1)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	w := &worker{pool: p, id: "go-1", slots: 1, log: p.log, exited: make(chan struct{}),
		recycleCh: make(chan string, 1), drained: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	var pythonEnd *os.File
	w.calls, pythonEnd, err = newCallChannel()
	require.NoError(t, err)
	pythonConn, err := net.FileConn(pythonEnd)
	require.NoError(t, err)
	pythonEnd.Close()
	go bridge.serveCalls(pythonConn)
	w.conn, err = grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	w.client = bridgev1.NewBridgeClient(w.conn)
	require.NoError(t, w.openSession())
	p.workers = []*worker{w}
	t.Cleanup(func() {
		w.cancel()
		w.session.close()
		pythonConn.Close()
		w.conn.Close()
		srv.Stop()
		p.cancel()
	})
	return p
}

// TestGoSideSession: the Go side of the call channel, against an in-process fake: results,
// heartbeats in order, tool errors, cancellation (by the Cancel RPC).
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

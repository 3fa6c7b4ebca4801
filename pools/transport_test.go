package pools

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// goBridge is an in-process bridge server for testing the Go side alone: noop returns null,
// beat sends two heartbeats, fail raises, block waits for a cancel.
type goBridge struct {
	bridgev1.UnimplementedBridgeServer
	session bool // serve Session (else only Execute, like an older server)

	mu      sync.Mutex
	cancels map[string]chan struct{} // of the Execute calls
}

func (g *goBridge) event(req *bridgev1.ExecuteRequest, cancelled <-chan struct{}, send func(*bridgev1.ExecuteEvent) error) error {
	switch req.GetTool() {
	case "beat":
		for i := range 2 {
			if err := send(&bridgev1.ExecuteEvent{Event: &bridgev1.ExecuteEvent_Heartbeat{Heartbeat: &bridgev1.Heartbeat{
				DetailsJson: []byte{'0' + byte(i)}, Progress: -1}}}); err != nil {
				return err
			}
		}
	case "fail":
		return send(&bridgev1.ExecuteEvent{Event: &bridgev1.ExecuteEvent_Error{Error: &bridgev1.Error{Type: "ValueError", Message: "boom"}}})
	case "block":
		<-cancelled
		return send(&bridgev1.ExecuteEvent{Event: &bridgev1.ExecuteEvent_Error{Error: &bridgev1.Error{Type: "Cancelled", Message: "cancelled"}}})
	}
	return send(&bridgev1.ExecuteEvent{Event: &bridgev1.ExecuteEvent_Result{Result: &bridgev1.Result{ResultJson: []byte("null")}}})
}

func (g *goBridge) Execute(req *bridgev1.ExecuteRequest, s grpc.ServerStreamingServer[bridgev1.ExecuteEvent]) error {
	ch := make(chan struct{})
	g.mu.Lock()
	g.cancels[req.GetCallId()] = ch
	g.mu.Unlock()
	return g.event(req, ch, s.Send)
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

func (g *goBridge) Session(s grpc.BidiStreamingServer[bridgev1.SessionRequest, bridgev1.SessionEvent]) error {
	if !g.session {
		return g.UnimplementedBridgeServer.Session(s)
	}
	cancels := map[string]chan struct{}{}
	sends := make(chan *bridgev1.SessionEvent, 16)
	go func() {
		for ev := range sends {
			_ = s.Send(ev)
		}
	}()
	defer close(sends)
	for {
		req, err := s.Recv()
		if err != nil {
			return nil
		}
		if c := req.GetCancel(); c != nil {
			if ch, ok := cancels[c.GetCallId()]; ok {
				close(ch)
				delete(cancels, c.GetCallId())
			}
			continue
		}
		start := req.GetStart()
		ch := make(chan struct{})
		cancels[start.GetCallId()] = ch
		run := func() {
			_ = g.event(start, ch, func(ev *bridgev1.ExecuteEvent) error {
				se := &bridgev1.SessionEvent{CallId: start.GetCallId()}
				switch e := ev.GetEvent().(type) {
				case *bridgev1.ExecuteEvent_Heartbeat:
					se.Event = &bridgev1.SessionEvent_Heartbeat{Heartbeat: e.Heartbeat}
				case *bridgev1.ExecuteEvent_Result:
					se.Event = &bridgev1.SessionEvent_Result{Result: e.Result}
				case *bridgev1.ExecuteEvent_Error:
					se.Event = &bridgev1.SessionEvent_Error{Error: e.Error}
				}
				sends <- se
				return nil
			})
		}
		if start.GetTool() == "block" {
			go run() // the receive loop must go on to see the cancel
		} else {
			run()
		}
	}
}

// goBridgePool returns a pool of one worker connected to an in-process goBridge (no Python).
func goBridgePool(t testing.TB, session bool) *Pool {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "b.sock")
	lis, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := grpc.NewServer()
	bridgev1.RegisterBridgeServer(srv, &goBridge{session: session, cancels: map[string]chan struct{}{}})
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
	w.conn, err = grpc.NewClient("unix:"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	w.client = bridgev1.NewBridgeClient(w.conn)
	require.NoError(t, w.openSession())
	p.workers = []*worker{w}
	t.Cleanup(func() {
		w.cancel()
		w.session.close()
		w.conn.Close()
		srv.Stop()
		p.cancel()
	})
	return p
}

// TestTransports: calls behave the same over the Session stream and over one Execute RPC each
// (the fallback for servers without Session): results, heartbeats in order, tool errors,
// cancellation.
func TestTransports(t *testing.T) {
	for _, session := range []bool{true, false} {
		name := map[bool]string{true: "session", false: "execute"}[session]
		t.Run(name, func(t *testing.T) {
			p := goBridgePool(t, session)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 3 {
				res, err := p.Call(ctx, Call{Tool: "noop"})
				require.NoError(t, err)
				assert.Equal(t, "null", string(res))
			}
			if !session {
				assert.ErrorIs(t, p.workers[0].session.err, errSessionUnsupported)
			} else {
				assert.NoError(t, p.workers[0].session.err)
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
		})
	}
}

// BenchmarkGoSide measures the Go supervisor's own cost per call, against an in-process Go
// bridge server (no Python): the floor under BenchmarkNoop.
func BenchmarkGoSide(b *testing.B) {
	for _, session := range []bool{true, false} {
		name := map[bool]string{true: "session", false: "execute"}[session]
		b.Run(name, func(b *testing.B) {
			p := goBridgePool(b, session)
			ctx := context.Background()
			lat := make([]time.Duration, 0, 1024)
			begin := time.Now()
			for b.Loop() {
				t0 := time.Now()
				if _, err := p.Call(ctx, Call{Tool: "noop"}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			report(b, lat, time.Since(begin))
		})
	}
}

package pools

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// session is a worker's long-lived Session stream: every call is one Start message out, and its
// events come back tagged with the call id. It costs far less per call than an Execute RPC.
type session struct {
	stream grpc.BidiStreamingClient[bridgev1.SessionRequest, bridgev1.SessionEvent]
	cancel context.CancelFunc
	// broken is called once if the stream ends on its own (not because the process exited or
	// the worker is being cleaned up).
	broken func(error)
	done   chan struct{} // closed when the receiver has stopped

	sendMu  sync.Mutex     // grpc allows one sender at a time
	senders sync.WaitGroup // cancelCall goroutines

	mu    sync.Mutex
	calls map[string]*mailbox
	err   error // why the stream ended; no call may start once it is set
}

// mailbox holds the events of one call until its caller takes them; the receiver never blocks.
type mailbox struct {
	mu     sync.Mutex
	events []*bridgev1.SessionEvent
	err    error // the stream ended before the call did
	signal chan struct{}
}

func newMailbox() *mailbox { return &mailbox{signal: make(chan struct{}, 1)} }

func (m *mailbox) push(ev *bridgev1.SessionEvent, err error) {
	m.mu.Lock()
	if ev != nil {
		m.events = append(m.events, ev)
	}
	if err != nil && m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

// take returns the events received so far, and the stream's error once there are no events left.
func (m *mailbox) take(buf []*bridgev1.SessionEvent) ([]*bridgev1.SessionEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	buf = append(buf[:0], m.events...)
	clear(m.events)
	m.events = m.events[:0]
	if len(buf) > 0 {
		return buf, nil
	}
	return buf, m.err
}

// openSession opens w's Session stream and starts its receiver.
func (w *worker) openSession() error {
	ctx, cancel := context.WithCancel(w.ctx)
	stream, err := w.client.Session(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("open session: %w", err)
	}
	s := &session{stream: stream, cancel: cancel, done: make(chan struct{}), calls: map[string]*mailbox{}}
	s.broken = func(err error) {
		if w.ctx.Err() != nil || ctx.Err() != nil {
			return // the process is gone: nothing to repair
		}
		// A process that died closes the stream before it is reaped: give it a moment.
		t := time.NewTimer(exitWait)
		defer t.Stop()
		select {
		case <-w.exited:
			return
		case <-t.C:
		}
		// The process lives but its call channel is gone: it cannot take calls any more.
		w.log.Error("session stream ended; replacing the worker", slog.Any("error", err))
		w.pool.killWorker(w, "session_lost")
	}
	go s.receive()
	w.session = s
	return nil
}

// receive hands every event to its call's mailbox until the stream ends, then fails the calls
// still waiting.
func (s *session) receive() {
	defer close(s.done)
	for {
		ev, err := s.stream.Recv()
		if err != nil {
			s.mu.Lock()
			s.err = err
			calls := s.calls
			s.calls = nil
			s.mu.Unlock()
			for _, mb := range calls {
				mb.push(nil, err)
			}
			s.broken(err)
			return
		}
		s.mu.Lock()
		mb := s.calls[ev.GetCallId()]
		s.mu.Unlock()
		if mb != nil { // else a call given up on: its late events are dropped
			mb.push(ev, nil)
		}
	}
}

// start registers a call and sends its Start message.
func (s *session) start(req *bridgev1.ExecuteRequest) (*mailbox, error) {
	mb := newMailbox()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	s.calls[req.GetCallId()] = mb
	s.mu.Unlock()
	if err := s.send(&bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Start{Start: req}}); err != nil {
		s.forget(req.GetCallId())
		return nil, err
	}
	return mb, nil
}

// cancelCall sends a Cancel message for a call, from a goroutine of its own: a worker that does
// not read its stream (hung) must not hold up the caller, whose cancel grace is running.
func (s *session) cancelCall(callID, reason string, log *slog.Logger) {
	s.senders.Add(1)
	go func() {
		defer s.senders.Done()
		err := s.send(&bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Cancel{
			Cancel: &bridgev1.CancelRequest{CallId: callID, Reason: reason}}})
		if err != nil {
			log.Warn("cancel call in python", slog.String("call_id", callID), slog.Any("error", err))
		}
	}()
}

func (s *session) send(req *bridgev1.SessionRequest) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if err := s.stream.Send(req); err != nil {
		// The real error comes from Recv; wait for the receiver to see it.
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			return s.err
		}
		return err
	}
	return nil
}

// forget drops a call's mailbox (it has ended, or was given up on).
func (s *session) forget(callID string) {
	s.mu.Lock()
	if s.calls != nil {
		delete(s.calls, callID)
	}
	s.mu.Unlock()
}

// close ends the stream and waits for the receiver and the senders.
func (s *session) close() {
	s.cancel()
	<-s.done
	s.senders.Wait()
}

package pools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// session is a worker's call channel (calls.go): every call is one Start frame out, and its events
// come back tagged with the call id. Cancels go on the control channel (control.go), which Python
// reads also while a process-profile tool runs (its thread reads the call channel only between
// calls).
type session struct {
	conn    *frameConn
	control *control
	ctx     context.Context // ends when the session closes (the worker's cleanup)
	proc    context.Context // ends when the process exits (w.ctx)
	cancel  context.CancelFunc
	// cancelTimeout bounds one cancel request.
	cancelTimeout time.Duration
	// broken is called once if the channel ends on its own (not because the process exited or
	// the worker is being cleaned up).
	broken func(error)
	// halfSent is called when a frame was cut short (send): the worker must go.
	halfSent func()
	done     chan struct{} // closed when the receiver has stopped

	// sendLock (a semaphore of one) lets one frame be written at a time; a caller waiting for it
	// honours its context.
	sendLock chan struct{}
	// sendGrace is how long the rest of a frame may take once its call's context has ended.
	sendGrace time.Duration
	senders   sync.WaitGroup // cancelCall goroutines

	mu    sync.Mutex
	calls map[string]*mailbox
	err   error // why the channel ended; no call may start once it is set
}

// mailbox holds the events of one call until its caller takes them; the receiver never blocks.
type mailbox struct {
	mu     sync.Mutex
	events []*bridgev1.SessionEvent
	err    error // the channel ended before the call did
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

// take returns the events received so far, and the channel's error once there are no events left.
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

// openSession starts serving w's call channel (w.calls, created by spawn).
func (w *worker) openSession() error {
	// Not w.ctx: when the process exits, the events it wrote just before (a result, a batch's
	// items) are still to be read; the receiver reads them up to the end of the channel, and the
	// worker's cleanup closes the session (after killing any leftover process that might hold
	// Python's end open).
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		proc:          w.ctx,
		conn:          newFrameConn("call channel", w.calls, maxRecvMessage),
		control:       w.control,
		ctx:           ctx,
		cancel:        cancel,
		cancelTimeout: w.pool.opts.CancelGrace,
		sendLock:      make(chan struct{}, 1),
		sendGrace:     w.pool.opts.CancelGrace,
		done:          make(chan struct{}),
		calls:         map[string]*mailbox{},
	}
	// Closing the channel ends the receiver.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.close() })
	s.broken = w.channelLost("call channel", "session_lost", func() bool { return ctx.Err() != nil })
	s.halfSent = func() {
		w.log.Error("the python worker did not read its call channel within the cancel grace; killing it",
			slog.Duration("cancel_grace", s.sendGrace))
		w.pool.killWorker(w, "cancel_timeout")
	}
	go func() {
		defer stop()
		s.receive()
	}()
	w.session = s
	return nil
}

// receive hands every event to its call's mailbox until the channel ends, then fails the calls
// still waiting.
func (s *session) receive() {
	defer close(s.done)
	for {
		ev := new(bridgev1.SessionEvent)
		if err := s.conn.read(ev); err != nil {
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

// start registers a call and sends its Start message, honouring ctx (see send).
func (s *session) start(ctx context.Context, callID string, req *bridgev1.SessionRequest) (*mailbox, error) {
	mb := newMailbox()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	s.calls[callID] = mb
	s.mu.Unlock()
	if err := s.send(ctx, req); err != nil {
		s.forget(callID)
		return nil, err
	}
	return mb, nil
}

// cancelCall sends the cancel of a call on the control channel, from a goroutine of its own: a
// worker that does not answer (hung) must not hold up the caller, whose cancel grace is running.
func (s *session) cancelCall(callID, reason string, log *slog.Logger) {
	s.senders.Add(1)
	go func() {
		defer s.senders.Done()
		ctx, cancel := context.WithTimeout(s.proc, s.cancelTimeout)
		defer cancel()
		stop := context.AfterFunc(s.ctx, cancel)
		defer stop()
		_, err := s.control.cancel(ctx, callID, reason)
		if err != nil && s.ctx.Err() == nil && s.proc.Err() == nil {
			log.Warn("cancel call in python", slog.String("call_id", callID), slog.Any("error", err))
		}
	}()
}

// send writes one request. Waiting for the channel (another caller is writing) and writing
// honour ctx: an error wrapping errNotSent means the request never reached Python; one wrapping
// errHalfSent that the channel is broken (its frame was cut short past sendGrace): no frame is
// written any more, and the worker is killed (halfSent).
func (s *session) send(ctx context.Context, req *bridgev1.SessionRequest) error {
	select {
	case s.sendLock <- struct{}{}:
	default:
		select {
		case s.sendLock <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("call channel: waiting to send: %w: %w", errNotSent, ctx.Err())
		case <-s.ctx.Done():
			return s.endedError()
		}
	}
	defer func() { <-s.sendLock }()
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err // the channel is broken: nothing more may be written
	}
	err = s.conn.write(ctx, req, s.sendGrace)
	if err == nil || errors.Is(err, errNotSent) {
		return err
	}
	if errors.Is(err, errHalfSent) {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
		s.halfSent()
		return err
	}
	// The real error comes from the receiver; wait for it.
	_ = s.conn.close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return err
}

// endedError is why the session ended (once its context is done).
func (s *session) endedError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return errors.New("call channel: closed")
}

// forget drops a call's mailbox (it has ended, or was given up on).
func (s *session) forget(callID string) {
	s.mu.Lock()
	if s.calls != nil {
		delete(s.calls, callID)
	}
	s.mu.Unlock()
}

// close ends the channel and waits for the receiver and the senders.
func (s *session) close() {
	s.cancel()
	<-s.done
	s.senders.Wait()
}

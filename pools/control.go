package pools

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// The control channel (bridge.proto): one end of a Unix socket pair that the worker inherits as
// controlFD, framed as the call channel is (calls.go). Go sends ControlRequests (Describe, Ping,
// Cancel, Stop); a thread of Python's own answers each with a ControlResponse that carries the
// request's id, also while a tool holds the tool thread. It is the worker's lifeline too: Python
// exits at once when this end closes (the Go process died), so it stays open until the worker's
// cleanup.

// controlFD is the worker's file descriptor of the control channel (cmd.ExtraFiles[3]).
const controlFD = 6

// maxControlFrame bounds a control response the Go side accepts (a Describe of many tools with
// their schemas is the largest).
const maxControlFrame = 64 << 20

// control is the Go end of a worker's control channel. Its methods are safe for concurrent use.
type control struct {
	conn *frameConn
	// sendLock (a semaphore of one) lets one frame be written at a time; a caller waiting for it
	// honours its context.
	sendLock chan struct{}
	// grace is how long the rest of a frame may take once its request's context has ended.
	grace time.Duration
	// broken is called when the channel fails: a read error, or a frame cut short (the callee
	// tells a failure from the end that close causes, closing).
	broken func(error)
	done   chan struct{} // closed when the receiver has stopped (err is set before)
	// closing is set once close was called: the channel's end is then no failure.
	closing atomic.Bool

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan *bridgev1.ControlResponse
	err     error // why the channel ended; nothing is written once it is set
}

// newControl returns the Go end of a control channel; serve starts it.
func newControl(conn net.Conn, grace time.Duration) *control {
	return &control{
		conn:     newFrameConn("control channel", conn, maxControlFrame),
		sendLock: make(chan struct{}, 1),
		grace:    grace,
		done:     make(chan struct{}),
		pending:  map[uint64]chan *bridgev1.ControlResponse{},
	}
}

// serve reads the answers until close; broken is called (with why) if the channel fails on its
// own before close.
func (c *control) serve(broken func(error)) {
	c.broken = broken
	go c.receive()
}

// receive hands every response to the request waiting for it until the channel ends.
func (c *control) receive() {
	for {
		resp := new(bridgev1.ControlResponse)
		if err := c.conn.read(resp); err != nil {
			c.fail(err)
			close(c.done)
			c.broken(err)
			return
		}
		c.mu.Lock()
		ch := c.pending[resp.GetId()]
		delete(c.pending, resp.GetId())
		c.mu.Unlock()
		if ch != nil { // else a request given up on: its late answer is dropped
			ch <- resp
		}
	}
}

// fail records why the channel ended (the first reason is kept).
func (c *control) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// ended is why the channel ended, nil while it serves.
func (c *control) ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// call sends req and waits for its answer; ctx bounds both. An error response (a request Python
// does not know, or cannot answer yet) is returned as an error.
func (c *control) call(ctx context.Context, req *bridgev1.ControlRequest) (*bridgev1.ControlResponse, error) {
	ch := make(chan *bridgev1.ControlResponse, 1)
	c.mu.Lock()
	c.next++
	req.Id = c.next
	c.pending[req.Id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, req.Id)
		c.mu.Unlock()
	}
	if err := c.write(ctx, req); err != nil {
		forget()
		return nil, err
	}
	var resp *bridgev1.ControlResponse
	select {
	case resp = <-ch:
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("control channel: no answer: %w", context.Cause(ctx))
	case <-c.done:
		select {
		case resp = <-ch: // answered just before the channel ended
		default:
			return nil, c.ended()
		}
	}
	if e := resp.GetError(); e != nil {
		return nil, fmt.Errorf("control channel: python answered %s: %s", e.GetType(), e.GetMessage())
	}
	return resp, nil
}

// send writes req without waiting for its answer.
func (c *control) send(ctx context.Context, req *bridgev1.ControlRequest) error {
	c.mu.Lock()
	c.next++
	req.Id = c.next
	c.mu.Unlock()
	return c.write(ctx, req)
}

// write sends one frame, honouring ctx while it waits for its turn and while it writes (see
// frameConn.write). A frame cut short breaks the channel: nothing more is written, and broken is
// called (the worker must go).
func (c *control) write(ctx context.Context, req *bridgev1.ControlRequest) error {
	select {
	case c.sendLock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("control channel: waiting to send: %w: %w", errNotSent, context.Cause(ctx))
	case <-c.done:
		return c.ended()
	}
	defer func() { <-c.sendLock }()
	if err := c.ended(); err != nil {
		return err
	}
	err := c.conn.write(ctx, req, c.grace)
	switch {
	case err == nil || errors.Is(err, errNotSent):
		return err
	case errors.Is(err, errHalfSent):
		c.fail(err)
		c.broken(err)
		return err
	default:
		return fmt.Errorf("control channel: %w", err) // the receiver sees why, and ends the channel
	}
}

// describe asks for the adapter, its tools and the interpreter.
func (c *control) describe(ctx context.Context) (*bridgev1.DescribeResponse, error) {
	resp, err := c.call(ctx, &bridgev1.ControlRequest{Request: &bridgev1.ControlRequest_Describe{Describe: &bridgev1.DescribeRequest{}}})
	if err != nil {
		return nil, err
	}
	return resp.GetDescribe(), nil
}

// ping is the health check: Python's answer says it is alive and reading its control channel.
func (c *control) ping(ctx context.Context) (*bridgev1.PingResponse, error) {
	resp, err := c.call(ctx, &bridgev1.ControlRequest{Request: &bridgev1.ControlRequest_Ping{Ping: &bridgev1.PingRequest{}}})
	if err != nil {
		return nil, err
	}
	return resp.GetPing(), nil
}

// cancel asks Python to cancel a call (one not arrived yet is cancelled when it does); it reports
// whether the call was running.
func (c *control) cancel(ctx context.Context, callID, reason string) (bool, error) {
	resp, err := c.call(ctx, &bridgev1.ControlRequest{Request: &bridgev1.ControlRequest_Cancel{
		Cancel: &bridgev1.CancelRequest{CallId: callID, Reason: reason}}})
	if err != nil {
		return false, err
	}
	return resp.GetCancel().GetFound(), nil
}

// stop asks the worker to stop (lifecycle.go) and does not wait for the answer: the caller waits
// for the process to exit.
func (c *control) stop(ctx context.Context, grace, timeout time.Duration) error {
	return c.send(ctx, &bridgev1.ControlRequest{Request: &bridgev1.ControlRequest_Stop{Stop: &bridgev1.StopRequest{
		GraceSeconds: grace.Seconds(), TimeoutSeconds: timeout.Seconds()}}})
}

// close ends the channel (Python, if it still runs, takes it for the Go side's death) and waits
// for the receiver.
func (c *control) close() {
	c.closing.Store(true)
	_ = c.conn.close()
	<-c.done
}

package pools

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
)

// The call channel (bridge.proto): one end of a Unix socket pair that the worker inherits as
// callsFD. Each frame is a 4-byte big-endian length and a serialised message: SessionRequest to
// Python, SessionEvent from Python. The control channel (control.go) is framed the same way.

// callsFD is the worker's file descriptor of the call channel (cmd.ExtraFiles[2]).
const callsFD = 5

// frameHeader is the size of a frame's length prefix.
const frameHeader = 4

// newChannel creates the socket pair of a channel (name: "calls" or "control"): the Go end, and
// the end the Python process inherits (close it once the process has started).
func newChannel(name string) (net.Conn, *os.File, error) {
	// As os/exec does: no fork may inherit the pair before it is close-on-exec.
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("create the %s channel: %w", name, err)
	}
	ours := os.NewFile(uintptr(fds[0]), name)
	defer ours.Close() // FileConn dups it
	conn, err := net.FileConn(ours)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("create the %s channel: %w", name, err)
	}
	return conn, os.NewFile(uintptr(fds[1]), name), nil
}

// frameConn reads and writes the frames of a channel. write is not safe for concurrent use (the
// session and the control serialise it); read is called by one goroutine.
type frameConn struct {
	name string // "call channel" or "control channel", for the errors
	conn net.Conn
	r    *bufio.Reader
	wbuf []byte
	max  int // largest frame read accepted
}

func newFrameConn(name string, conn net.Conn, maxFrame int) *frameConn {
	return &frameConn{name: name, conn: conn, r: bufio.NewReaderSize(conn, 64<<10), max: maxFrame}
}

// errNotSent is returned (wrapping the context's error) by a write whose context ended before
// any byte of its frame was written: the channel is intact, the peer never sees the message.
var errNotSent = errors.New("the frame was not sent")

// errHalfSent is returned by a write whose context ended in the middle of its frame and whose
// rest could not be written within the grace either: the channel now holds half a frame and is
// of no further use.
var errHalfSent = errors.New("half a frame was written")

// write sends one message as a frame. A peer that does not read (hung, stopped) fills the
// socket's buffer and blocks the write: it honours ctx then. If nothing of the frame was written
// when ctx ends, it returns at once an error wrapping errNotSent and ctx.Err(). If part of it was,
// the rest must follow (half a frame would break the channel for every call), so it gets grace
// more; past that it returns an error wrapping errHalfSent.
func (c *frameConn) write(ctx context.Context, m proto.Message, grace time.Duration) error {
	buf, err := proto.MarshalOptions{}.MarshalAppend(append(c.wbuf[:0], 0, 0, 0, 0), m)
	if err != nil {
		return fmt.Errorf("encode %T: %w", m, err)
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-frameHeader))
	if cap(buf) <= 64<<10 {
		c.wbuf = buf // reuse small buffers only
	}
	return c.writeFrame(ctx, buf, grace)
}

// writeFrame writes an encoded frame (see write).
func (c *frameConn) writeFrame(ctx context.Context, buf []byte, grace time.Duration) error {
	if ctx.Done() == nil {
		_, err := c.conn.Write(buf)
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w: %w", c.name, errNotSent, ctx.Err())
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = c.conn.SetWriteDeadline(time.Now()) // the blocked Write returns at once
	})
	n, err := c.conn.Write(buf)
	if stop() {
		return err // ctx did not end during the write
	}
	<-fired
	if err == nil {
		return c.conn.SetWriteDeadline(time.Time{})
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if n == 0 {
		_ = c.conn.SetWriteDeadline(time.Time{})
		return fmt.Errorf("%s: %w: %w", c.name, errNotSent, ctx.Err())
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(grace))
	_, err = c.conn.Write(buf[n:])
	_ = c.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("%s: %w (%d of %d bytes) and the rest could not follow within %s: %w",
			c.name, errHalfSent, n, len(buf), grace, err)
	}
	return nil
}

// read receives one frame into m.
func (c *frameConn) read(m proto.Message) error {
	var header [frameHeader]byte
	if _, err := io.ReadFull(c.r, header[:]); err != nil {
		return fmt.Errorf("%s: %w", c.name, err) // io.EOF: the peer closed its end between frames
	}
	size := binary.BigEndian.Uint32(header[:])
	if int64(size) > int64(c.max) {
		return fmt.Errorf("%s: a frame of %d bytes is over the %d-byte limit", c.name, size, c.max)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return fmt.Errorf("%s: truncated frame: %w", c.name, err)
	}
	if err := proto.Unmarshal(body, m); err != nil {
		return fmt.Errorf("%s: decode a %s: %w", c.name, m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

func (c *frameConn) close() error { return c.conn.Close() }

// Command transports measures bridge transport designs side by side: the same no-op call between
// this Go process and Python processes, over each design in peer.py and over the bridge server as
// shipped (python -m snakepool.server, design "bridge"), in alternating rounds.
//
//	go run ./bench/transports -rounds 3 -time 3s     (from the repository root)
//
// For each round and design it starts two Python processes, warms them up, then measures one
// caller on one process (serial: the bare round trip) and one caller per process (parallel), and
// prints p50, p99 and calls/s; at the end, the median and the range over the rounds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

const service = "bench.Transport"

// caller runs one call on one Python process and returns when its result is back.
type caller interface {
	call() error
}

// peer is one Python process and the Go end of its transport.
type peer struct {
	cmd     *exec.Cmd
	stderr  bytes.Buffer // shown when the peer fails; a peer killed at the end of its round may complain
	dir     string
	caller  caller
	closers []func()
}

func (p *peer) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	os.RemoveAll(p.dir)
}

// streamCaller: one bidi stream, a Start out, a result in.
type streamCaller struct{ s grpc.ClientStream }

func (c streamCaller) call() error {
	if err := c.s.SendMsg(&wrapperspb.BytesValue{Value: []byte(`{"tool":"noop"}`)}); err != nil {
		return err
	}
	return c.s.RecvMsg(new(wrapperspb.BytesValue))
}

// serverStreamCaller: Python dialled us; its bidi stream is served here.
type serverStreamCaller struct{ s grpc.ServerStream }

func (c serverStreamCaller) call() error {
	if err := c.s.SendMsg(&wrapperspb.BytesValue{Value: []byte(`{"tool":"noop"}`)}); err != nil {
		return err
	}
	return c.s.RecvMsg(new(wrapperspb.BytesValue))
}

// frameCaller: a plain socket; each message is a 4-byte big-endian length and a protobuf (the
// bridge's call channel, and the socket-frames design).
type frameCaller struct {
	conn net.Conn
	r    *bufio.Reader
	out  []byte
	in   proto.Message
}

func (c *frameCaller) call() error {
	if _, err := c.conn.Write(c.out); err != nil {
		return err
	}
	var header [4]byte
	if _, err := io.ReadFull(c.r, header[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(header[:]))
	if _, err := io.ReadFull(c.r, body); err != nil {
		return err
	}
	return proto.Unmarshal(body, c.in)
}

// pullCaller: Python's pending Next RPC takes the Start; its next Next brings the result.
type pullCaller struct {
	pullers chan chan *wrapperspb.BytesValue
	results chan *wrapperspb.BytesValue
}

func (c *pullCaller) call() error {
	reply := <-c.pullers
	reply <- &wrapperspb.BytesValue{Value: []byte(`{"tool":"noop"}`)}
	<-c.results
	return nil
}

func (c *pullCaller) next(ctx context.Context, req *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	reply := make(chan *wrapperspb.BytesValue, 1)
	if len(req.GetValue()) > 0 {
		c.results <- req
	}
	select {
	case c.pullers <- reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case v := <-reply:
		return v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func start(python, peerPy, design string) (*peer, error) {
	dir, err := os.MkdirTemp("", "sp-tb-")
	if err != nil {
		return nil, err
	}
	p := &peer{dir: dir}
	sock := filepath.Join(dir, "s.sock")
	addr := "unix:" + sock
	p.cmd = exec.Command(python, peerPy, design, addr)
	p.cmd.Stderr = &p.stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if design == "bridge" {
		return startBridge(p, python)
	}
	if strings.HasPrefix(design, "server-") {
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := p.cmd.Start(); err != nil {
			return nil, err
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			p.close()
			return nil, fmt.Errorf("%s did not start: %q %v\n%s", design, line, err, p.stderr.String())
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(8<<20), grpc.WithInitialConnWindowSize(8<<20))
		if err != nil {
			p.close()
			return nil, err
		}
		p.closers = append(p.closers, func() { conn.Close() })
		sctx, scancel := context.WithCancel(context.Background())
		p.closers = append(p.closers, scancel)
		s, err := conn.NewStream(sctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/"+service+"/Session")
		if err != nil {
			p.close()
			return nil, err
		}
		p.caller = streamCaller{s}
		return p, nil
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	if design == "socket-frames" {
		p.closers = append(p.closers, func() { lis.Close() })
		if err := p.cmd.Start(); err != nil {
			p.close()
			return nil, err
		}
		conn, err := lis.Accept()
		if err != nil {
			p.close()
			return nil, err
		}
		p.closers = append(p.closers, func() { conn.Close() })
		p.caller = newFrameCaller(conn, &wrapperspb.BytesValue{Value: []byte(`{"tool":"noop"}`)}, new(wrapperspb.BytesValue))
		return p, nil
	}
	srv := grpc.NewServer(grpc.InitialWindowSize(8<<20), grpc.InitialConnWindowSize(8<<20))
	streams := make(chan grpc.ServerStream, 1)
	done := make(chan struct{})
	pc := &pullCaller{pullers: make(chan chan *wrapperspb.BytesValue), results: make(chan *wrapperspb.BytesValue, 1)}
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: service,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Next", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(wrapperspb.BytesValue)
			if err := dec(req); err != nil {
				return nil, err
			}
			return pc.next(ctx, req)
		}}},
		Streams: []grpc.StreamDesc{
			{StreamName: "Session", ServerStreams: true, ClientStreams: true, Handler: func(_ any, s grpc.ServerStream) error {
				streams <- s
				<-done
				return nil
			}},
			{StreamName: "Control", ServerStreams: true, Handler: func(_ any, s grpc.ServerStream) error {
				<-done
				return nil
			}},
		},
	}, nil)
	go func() { _ = srv.Serve(lis) }()
	p.closers = append(p.closers, srv.Stop, func() { close(done) })
	if err := p.cmd.Start(); err != nil {
		p.close()
		return nil, err
	}
	if design == "client-pull" {
		p.caller = pc
		return p, nil
	}
	select {
	case s := <-streams:
		p.caller = serverStreamCaller{s}
		return p, nil
	case <-ctx.Done():
		p.close()
		return nil, errors.New(design + ": no stream within 30s")
	}
}

func newFrameCaller(conn net.Conn, out, in proto.Message) *frameCaller {
	body, err := proto.Marshal(out)
	if err != nil {
		fail(err)
	}
	frame := append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	return &frameCaller{conn: conn, r: bufio.NewReader(conn), out: frame, in: in}
}

// startBridge starts python -m snakepool.server as the pools package does (socket pairs as its
// call channel, fd 3, and its control channel, fd 4; no gRPC) and calls the showcase adapter's
// noop on the call channel.
func startBridge(p *peer, python string) (*peer, error) {
	var conns []net.Conn
	var children []*os.File
	for _, name := range []string{"calls", "control"} {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		ours, child := os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name)
		conn, err := net.FileConn(ours)
		ours.Close()
		if err != nil {
			child.Close()
			return nil, err
		}
		p.closers = append(p.closers, func() { conn.Close() })
		conns, children = append(conns, conn), append(children, child)
	}
	p.cmd = exec.Command(python, "-m", "snakepool.server", "--log-level", "WARNING",
		"--adapter", "snakepool.examples.showcase:ShowcaseAdapter", "--calls-fd", "3", "--control-fd", "4")
	p.cmd.Stderr = &p.stderr
	p.cmd.ExtraFiles = children
	out, err := p.cmd.StdoutPipe()
	if err == nil {
		err = p.cmd.Start()
	}
	for _, child := range children {
		child.Close()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.Contains(line, `"pid"`) || strings.Contains(line, `"error"`) {
		p.close()
		return nil, fmt.Errorf("bridge did not start: %q %v\n%s", line, err, p.stderr.String())
	}
	p.caller = newFrameCaller(conns[0], &bridgev1.SessionRequest{Request: &bridgev1.SessionRequest_Start{Start: &bridgev1.ExecuteRequest{
		CallId: "c", Tool: "noop", ArgsJson: []byte("{}"), Info: &bridgev1.CallInfo{}}}}, new(bridgev1.SessionEvent))
	return p, nil
}

type figures struct{ p50, p99, rate float64 }

func measure(callers []caller, d time.Duration) (figures, error) {
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	begin := time.Now()
	deadline := begin.Add(d)
	for _, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := c.call(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if firstErr != nil {
		return figures{}, firstErr
	}
	slices.Sort(all)
	pct := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Nanoseconds()) / 1e3 }
	return figures{pct(0.5), pct(0.99), float64(len(all)) / elapsed.Seconds()}, nil
}

func main() {
	python := flag.String("python", envOr("SNAKEPOOL_PYTHON", ".venv/bin/python"), "the Python interpreter")
	rounds := flag.Int("rounds", 3, "alternating rounds")
	d := flag.Duration("time", 3*time.Second, "measuring time per design, round and load")
	designs := flag.String("designs", "bridge,server-iter,server-iter-bdp,server-hop,server-gen,client-stream,client-pull,client-aio,socket-frames",
		"designs, comma-separated (bridge: python -m snakepool.server on its call and control channels, as shipped; the others: bench/transports/peer.py)")
	flag.Parse()
	peerPy, err := filepath.Abs("bench/transports/peer.py")
	if err != nil {
		fail(err)
	}
	names := strings.Split(*designs, ",")
	results := map[string][2][]figures{}
	fmt.Printf("%-14s %5s %-8s %8s %8s %9s\n", "design", "round", "callers", "p50-µs", "p99-µs", "calls/s")
	for r := 1; r <= *rounds; r++ {
		for _, name := range names {
			peers := make([]*peer, 2)
			for i := range peers {
				if peers[i], err = start(*python, peerPy, name); err != nil {
					fail(err)
				}
			}
			for _, p := range peers {
				for range 500 {
					if err := p.caller.call(); err != nil {
						fail(fmt.Errorf("%s warm-up: %w\n%s", name, err, p.stderr.String()))
					}
				}
			}
			for k, cs := range [][]caller{{peers[0].caller}, {peers[0].caller, peers[1].caller}} {
				f, err := measure(cs, *d)
				if err != nil {
					fail(fmt.Errorf("%s: %w", name, err))
				}
				res := results[name]
				res[k] = append(res[k], f)
				results[name] = res
				fmt.Printf("%-14s %5d %-8d %8.0f %8.0f %9.0f\n", name, r, len(cs), f.p50, f.p99, f.rate)
			}
			for _, p := range peers {
				p.close()
			}
		}
	}
	fmt.Printf("\nmedian [min-max] over %d rounds, 2 Python processes\n", *rounds)
	fmt.Printf("%-14s %-8s %-22s %-22s %-24s\n", "design", "callers", "p50 µs", "p99 µs", "calls/s")
	for _, name := range names {
		for k, n := range []int{1, 2} {
			fs := results[name][k]
			fmt.Printf("%-14s %-8d %-22s %-22s %-24s\n", name, n,
				spread(fs, func(f figures) float64 { return f.p50 }),
				spread(fs, func(f figures) float64 { return f.p99 }),
				spread(fs, func(f figures) float64 { return f.rate }))
		}
	}
}

func spread(fs []figures, get func(figures) float64) string {
	v := make([]float64, len(fs))
	for i, f := range fs {
		v[i] = get(f)
	}
	slices.Sort(v)
	return fmt.Sprintf("%.0f [%.0f-%.0f]", v[len(v)/2], v[0], v[len(v)-1])
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "transports:", err)
	os.Exit(1)
}

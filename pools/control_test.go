package pools

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"

	bridgev1 "github.com/snakepool/snakepool/proto/snakepool/bridge/v1"
)

// TestPoolWorkersImportNoGRPC: a worker the pool starts serves on its two channels only, so its
// Python process never imports grpc (its largest import before); protobuf, which the channels'
// frames use, is imported (so the check can fail).
func TestPoolWorkersImportNoGRPC(t *testing.T) {
	for _, profile := range []Profile{ProfileProcess, ProfileThread} {
		t.Run(string(profile), func(t *testing.T) {
			opts := testOptions(t, testAdap, 1)
			opts.Profile = profile
			p := startPool(t, opts)
			res, err := call(t, p, "modules", map[string]any{"packages": []string{"grpc", "google", "snakepool"}})
			require.NoError(t, err)
			var modules []string
			require.NoError(t, json.Unmarshal(res, &modules))
			assert.Contains(t, modules, "google.protobuf")
			for _, m := range modules {
				assert.False(t, strings.HasPrefix(m, "grpc") || strings.HasSuffix(m, "_grpc") || m == "snakepool._grpc_server",
					"module %s is imported", m)
			}
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", workerPIDs(p)[0]))
			require.NoError(t, err)
			assert.NotContains(t, string(maps), "grpc", "a grpc library is mapped into the worker")
		})
	}
}

// TestPoolsDoNotLinkGRPC: the Go side talks to Python without gRPC, so package pools (and a
// program that embeds it without Temporal) does not link google.golang.org/grpc.
func TestPoolsDoNotLinkGRPC(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "google.golang.org/protobuf/proto", "the list is the real one")
	for _, dep := range deps {
		assert.False(t, strings.HasPrefix(dep, "google.golang.org/grpc"), "pools links %s", dep)
	}
}

// TestControlChannelLostReplacesTheWorker: a worker whose control channel ends while its process
// lives can no longer be health-checked, cancelled or stopped: it is killed and replaced.
func TestControlChannelLostReplacesTheWorker(t *testing.T) {
	scope := tally.NewTestScope("", nil)
	opts := testOptions(t, testAdap, 1)
	opts.RestartBackoff = 10 * time.Millisecond
	opts.Metrics = scope
	p := startPool(t, opts)
	before := workerPIDs(p)[0]
	_, err := call(t, p, "shut_control_channel", nil)
	require.NoError(t, err)
	waitFor(t, p, 20*time.Second, "the worker to be replaced", func() bool {
		now := workerPIDs(p)
		return len(now) == 1 && now[0] != before
	})
	waitGone(t, []int{before}, 5*time.Second)
	assert.Equal(t, int64(1), counterValue(scope, metricRestarts, map[string]string{"reason": "control_lost"}))
	var ce *WorkerCrashedError
	require.ErrorAs(t, p.Health().LastError, &ce)
	assert.Equal(t, "control_lost", ce.Reason)
	_, err = call(t, p, "noop", nil)
	require.NoError(t, err)
}

// fakeControlPeer is the Python end of a control channel, answered by a test: it hands each
// request to answer and writes what answer returns (nil: no answer).
// The channel's end, unless close caused it, goes to the returned channel.
func fakeControlPeer(t *testing.T, answer func(*bridgev1.ControlRequest) *bridgev1.ControlResponse) (*control, net.Conn, <-chan error) {
	t.Helper()
	ours, peer := pythonEnd(t, "control")
	go func() {
		r := bufio.NewReader(peer)
		send := frameWriter(peer)
		for {
			req := new(bridgev1.ControlRequest)
			if readFrame(r, req) != nil {
				return
			}
			if resp := answer(req); resp != nil {
				send(resp)
			}
		}
	}()
	c := newControl(ours, time.Second)
	broken := make(chan error, 1)
	c.serve(func(err error) {
		if !c.closing.Load() {
			broken <- err
		}
	})
	t.Cleanup(c.close)
	return c, peer, broken
}

// TestControl: the Go end of the control channel matches answers to requests by id, reports an
// error answer as an error, gives up on a request at its context's end (dropping its late answer)
// and fails the requests waiting when the channel ends.
func TestControl(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held := make(chan *bridgev1.ControlRequest, 1)
	c, peer, broken := fakeControlPeer(t, func(req *bridgev1.ControlRequest) *bridgev1.ControlResponse {
		switch q := req.GetRequest().(type) {
		case *bridgev1.ControlRequest_Ping:
			return &bridgev1.ControlResponse{Id: req.GetId(), Response: &bridgev1.ControlResponse_Ping{Ping: &bridgev1.PingResponse{Pid: 7}}}
		case *bridgev1.ControlRequest_Cancel:
			if q.Cancel.GetCallId() == "late" {
				held <- req // answered later, out of turn
				return nil
			}
			return &bridgev1.ControlResponse{Id: req.GetId(), Response: &bridgev1.ControlResponse_Cancel{Cancel: &bridgev1.CancelResponse{Found: true}}}
		default:
			return &bridgev1.ControlResponse{Id: req.GetId(), Response: &bridgev1.ControlResponse_Error{Error: &bridgev1.Error{Type: "NotReady", Message: "starting"}}}
		}
	})

	ping, err := c.ping(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(7), ping.GetPid())
	found, err := c.cancel(ctx, "c1", "why")
	require.NoError(t, err)
	assert.True(t, found)
	_, err = c.describe(ctx)
	require.ErrorContains(t, err, "control channel: python answered NotReady: starting")

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, err = c.cancel(short, "late", "")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	late := <-held
	frameWriter(peer)(&bridgev1.ControlResponse{Id: late.GetId(), Response: &bridgev1.ControlResponse_Cancel{Cancel: &bridgev1.CancelResponse{}}})
	ping, err = c.ping(ctx) // the late answer went nowhere; this one is the ping's
	require.NoError(t, err)
	assert.Equal(t, int32(7), ping.GetPid())

	waiting := make(chan error, 1)
	go func() { _, err := c.cancel(ctx, "late", ""); waiting <- err }()
	<-held
	peer.Close() // Python is gone
	select {
	case err := <-waiting:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "control channel: EOF")
	case <-ctx.Done():
		t.Fatal("a request waiting when the channel ended was not failed")
	}
	_, err = c.ping(ctx)
	require.Error(t, err, "nothing is sent on an ended channel")
	select {
	case err := <-broken:
		assert.ErrorContains(t, err, "EOF")
	case <-ctx.Done():
		t.Fatal("the channel's end was not reported (the worker would not be replaced)")
	}
}

package pools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The protocol check runs both ways (bridge.proto, "Version"). The Go side passes the version it
// speaks in the environment (protocolEnv); Python checks it before it parses its command line (a
// newer Go side may pass flags it does not know) and answers a mismatch with a handshake error.
// The Go side reads Python's version from the handshake. A Python package older than the check
// cannot answer (it fails on the first flag it does not know, before any handshake), so when a
// process exits without a handshake the Go side asks the interpreter which snakepool package it
// has (probePackage).

// protocolEnv carries the Go side's protocol version to Python (PROTOCOL_ENV in _protocol.py).
const protocolEnv = "SNAKEPOOL_BRIDGE_PROTOCOL"

// goProtocol is the protocol version the pools speak and pass to Python: protocolVersion (a test
// pretends to be another release by changing it).
var goProtocol = protocolVersion

// probeTimeout bounds the probe of an interpreter's snakepool package.
const probeTimeout = 10 * time.Second

// ProtocolMismatchError is returned by Start when the Python package of the pool's interpreter
// speaks another bridge protocol than this Go package: the two come from different releases.
type ProtocolMismatchError struct {
	// Pool names the pool; Python is its interpreter (Options.Python).
	Pool   string
	Python string
	// PackageVersion is the Python package's version (snakepool.__version__), empty when unknown.
	PackageVersion string
	// PythonProtocol is the protocol the Python package speaks (0 when it is too old to say);
	// GoProtocol the one this Go package speaks.
	PythonProtocol int
	GoProtocol     int
}

func (e *ProtocolMismatchError) Error() string {
	version := "version unknown"
	if e.PackageVersion != "" {
		version = e.PackageVersion
	}
	speaks := strconv.Itoa(e.PythonProtocol)
	if e.PythonProtocol == 0 {
		speaks = "an older protocol (it does not say which)"
	}
	fix := "upgrade the Python package in that interpreter to this worker's release (docs/install.md)"
	if e.PythonProtocol > e.GoProtocol {
		fix = "install the Python package of this worker's release into that interpreter, or run a worker of the package's release (docs/install.md)"
	}
	return fmt.Sprintf("pool %q: the snakepool Go worker speaks bridge protocol %d, the Python package at %s (snakepool %s) speaks %s: %s",
		e.Pool, e.GoProtocol, e.Python, version, speaks, fix)
}

// probeScript prints the interpreter's snakepool package: its version and protocol, or why it
// cannot be imported. It uses only what every release of the package exports.
const probeScript = `import json
try:
    import snakepool as s
except BaseException as e:
    print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
else:
    print(json.dumps({"version": str(getattr(s, "__version__", "")), "protocol": getattr(s, "PROTOCOL_VERSION", 0)}))
`

// probePackage runs the worker's interpreter, as the worker ran, to see which snakepool package
// it has. It returns a *ProtocolMismatchError, an error saying that the package cannot be
// imported, or nil (the package speaks this protocol, or the probe could not tell).
func (w *worker) probePackage() error {
	o := w.pool.opts
	cmd := exec.Command(o.Python, "-c", probeScript)
	cmd.Env = append(o.environ(os.Environ()), o.deviceEnviron(w.slot)...)
	cmd.Dir = o.Dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.SysProcAttr = sysProcAttr()
	if err := children.start(cmd, ""); err != nil {
		return nil // the worker's own error says why the interpreter does not run
	}
	pid := cmd.Process.Pid
	timer := time.AfterFunc(probeTimeout, func() { _ = killGroup(pid, syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	children.reaped(pid)
	if err != nil {
		return nil
	}
	var found struct {
		Version  string          `json:"version"`
		Protocol json.RawMessage `json:"protocol"`
		Error    string          `json:"error"`
	}
	if json.Unmarshal(bytes.TrimSpace(out.Bytes()), &found) != nil {
		return nil
	}
	if found.Error != "" {
		return fmt.Errorf("the interpreter %s cannot import the snakepool package (%s): install the package of this worker's release into it (docs/install.md)",
			o.Python, found.Error)
	}
	protocol, err := strconv.Atoi(strings.TrimSpace(string(found.Protocol)))
	if err != nil || protocol == goProtocol {
		return nil
	}
	return &ProtocolMismatchError{Python: o.Python, PackageVersion: found.Version, PythonProtocol: protocol, GoProtocol: goProtocol}
}

// errNoHandshake: the process closed its handshake pipe (it exited) without writing a line.
var errNoHandshake = errors.New("the process closed the handshake pipe without writing the handshake")

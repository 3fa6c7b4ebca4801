package pools

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// protocolVersion is the bridge protocol version this package speaks (PROTOCOL_VERSION in
// bridge.proto's handshake comment).
const protocolVersion = 4

// maxHandshakeBytes bounds the handshake line (an error traceback can be long).
const maxHandshakeBytes = 1 << 20

// handshake is the one JSON line a Python worker writes to its handshake fd.
type handshake struct {
	Protocol       int    `json:"protocol"`
	PackageVersion string `json:"package_version"`
	Address        string `json:"address"` // only when Python serves gRPC too (--socket); unused
	PID            int    `json:"pid"`
	Error          *struct {
		Type      string `json:"type"`
		Message   string `json:"message"`
		Traceback string `json:"traceback"`
	} `json:"error"`
}

// readHandshake reads and parses the handshake line from r. A Python package of another protocol
// is returned as *ProtocolMismatchError, an adapter load failure as *AdapterError (both without
// the pool's details, set by the caller); no line at all as errNoHandshake.
func readHandshake(r io.Reader) (handshake, error) {
	var hs handshake
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxHandshakeBytes), 64<<10).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && strings.TrimSpace(line) != "") {
		if errors.Is(err, io.EOF) {
			return hs, errNoHandshake
		}
		return hs, fmt.Errorf("read handshake: %w", err)
	}
	if err := json.Unmarshal([]byte(line), &hs); err != nil {
		return hs, fmt.Errorf("parse handshake %q: %w", truncate(line, 200), err)
	}
	if hs.Protocol != goProtocol { // whatever else it says: another release may mean anything by it
		return hs, &ProtocolMismatchError{PackageVersion: hs.PackageVersion, PythonProtocol: hs.Protocol, GoProtocol: goProtocol}
	}
	if hs.Error != nil {
		return hs, &AdapterError{Type: hs.Error.Type, Message: hs.Error.Message, Traceback: hs.Error.Traceback}
	}
	return hs, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

package pools

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// socketDirPrefix names the private directories of the workers' sockets.
const socketDirPrefix = "snakepool-"

// maxSocketPath keeps the socket path well below the 108 bytes of sun_path.
const maxSocketPath = 100

// socketDir creates a private (0700) directory for a worker's socket with a short path.
func socketDir() (string, error) {
	sweepOnce.Do(func() { sweepStaleSocketDirs(os.TempDir()) })
	for _, base := range []string{os.TempDir(), "/tmp"} {
		if len(base)+len("/"+socketDirPrefix+"1234567890/w.sock") >= maxSocketPath {
			continue
		}
		dir, err := os.MkdirTemp(base, socketDirPrefix)
		if err != nil {
			return "", errors.New("create socket directory: " + err.Error())
		}
		return dir, nil
	}
	return "", errors.New("create socket directory: TMPDIR " + os.TempDir() + " is too long for a unix socket path")
}

var sweepOnce sync.Once

// sweepStaleSocketDirs removes the socket directories left by Go processes that were killed
// before they could clean up (their Python workers died with them): a directory whose socket
// refuses connections. Directories without a socket (a worker starting) or with a live one are
// left alone.
func sweepStaleSocketDirs(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), socketDirPrefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		sock := filepath.Join(dir, "w.sock")
		if _, err := os.Lstat(sock); err != nil {
			continue
		}
		conn, err := net.DialTimeout("unix", sock, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			_ = os.RemoveAll(dir)
		}
	}
}

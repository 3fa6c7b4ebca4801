package pools

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxLogLine bounds one line read from a worker's stdout, stderr or log pipe; longer lines are
// split.
const maxLogLine = 256 << 10

// pythonRecord is one logging record written by the Python server to its --log-fd, one JSON object
// a line.
type pythonRecord struct {
	Time     json.RawMessage `json:"time"`
	Level    string          `json:"level"`
	Logger   string          `json:"logger"`
	Message  string          `json:"message"`
	Thread   string          `json:"thread"`
	WorkerID string          `json:"worker_id"`
	CallID   string          `json:"call_id"`
	Exc      string          `json:"exc"`
}

// pythonLevel maps a Python logging level name to a slog level.
func pythonLevel(name string) slog.Level {
	switch strings.ToUpper(name) {
	case "DEBUG", "NOTSET":
		return slog.LevelDebug
	case "INFO":
		return slog.LevelInfo
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	case "CRITICAL", "FATAL":
		return slog.LevelError + 4
	default:
		return slog.LevelInfo
	}
}

// parseRecordTime accepts a Unix time in seconds (a JSON number) or an RFC 3339 string.
func parseRecordTime(raw json.RawMessage) time.Time {
	if len(raw) == 0 {
		return time.Now()
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		return time.Unix(0, int64(secs*1e9))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05,000"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
	}
	return time.Now()
}

// relayLogRecords reads JSON logging records from r until EOF and logs each to logger with its
// level, time and fields as attributes. A line that is not a record is logged as is.
func relayLogRecords(r io.Reader, logger *slog.Logger) {
	readLines(r, func(line []byte) {
		var rec pythonRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.Level == "" {
			logger.Info(string(line), slog.String("stream", "log"))
			return
		}
		level := pythonLevel(rec.Level)
		ctx := context.Background()
		h := logger.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		r := slog.NewRecord(parseRecordTime(rec.Time), level, rec.Message, 0)
		r.AddAttrs(slog.String("logger", rec.Logger), slog.String("thread", rec.Thread))
		if rec.WorkerID != "" {
			r.AddAttrs(slog.String("worker_id", rec.WorkerID))
		}
		if rec.CallID != "" {
			r.AddAttrs(slog.String("call_id", rec.CallID))
		}
		if rec.Exc != "" {
			r.AddAttrs(slog.String("exc", rec.Exc))
		}
		_ = h.Handle(ctx, r)
	})
}

// relayOutput logs every line of a worker's stdout or stderr, and keeps the last lines in tail
// when it is not nil.
func relayOutput(r io.Reader, logger *slog.Logger, stream string, level slog.Level, tail *lineTail) {
	readLines(r, func(line []byte) {
		s := string(line)
		if tail != nil {
			tail.add(s)
		}
		logger.Log(context.Background(), level, s, slog.String("stream", stream))
	})
}

func readLines(r io.Reader, fn func([]byte)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(chunk) > 0 || isPrefix {
			buf = append(buf, chunk...)
		}
		if err != nil {
			if len(buf) > 0 {
				fn(buf)
			}
			return
		}
		if isPrefix && len(buf) < maxLogLine {
			continue
		}
		fn(buf)
		buf = buf[:0]
	}
}

// lineTail keeps the last lines written to it, bounded in count and bytes.
type lineTail struct {
	mu    sync.Mutex
	lines []string
	size  int
}

const (
	tailLines = 40
	tailBytes = 8 << 10
)

func (t *lineTail) add(line string) {
	if len(line) > tailBytes {
		line = line[len(line)-tailBytes:]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	t.size += len(line)
	for len(t.lines) > tailLines || t.size > tailBytes {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

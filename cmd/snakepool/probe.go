package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/snakepool/snakepool/pools"
)

// probeSource is the interpreter probe, run with `python -c`.
//
//go:embed probe.py
var probeSource string

// probeTimeout bounds one probe run (adapters that import big libraries take seconds).
const probeTimeout = 2 * time.Minute

// probeReport is what probe.py reports (see its docstring).
type probeReport struct {
	Python struct {
		Executable     string `json:"executable"`
		Version        string `json:"version"`
		VersionInfo    []int  `json:"version_info"`
		Implementation string `json:"implementation"`
		Prefix         string `json:"prefix"`
		GILEnabled     bool   `json:"gil_enabled"`
	} `json:"python"`
	Cwd       string `json:"cwd"`
	Snakepool struct {
		Installed      bool        `json:"installed"`
		Version        string      `json:"version"`
		File           string      `json:"file"`
		Protocol       int         `json:"protocol"`
		RequiresPython string      `json:"requires_python"`
		Requires       []string    `json:"requires"`
		Error          *probeError `json:"error"`
		MetadataError  *probeError `json:"metadata_error"`
	} `json:"snakepool"`
	// Packages are snakepool's requirements (extras left out) by distribution name.
	Packages map[string]struct {
		Requirement string `json:"requirement"`
		Version     string `json:"version"` // empty when not installed
	} `json:"packages"`
	Bridge *struct {
		OK    bool        `json:"ok"`
		Error *probeError `json:"error"`
	} `json:"bridge"`
	Adapters []probeAdapter `json:"adapters"`
}

type probeError struct {
	Type          string `json:"type"`
	Message       string `json:"message"`
	Traceback     string `json:"traceback"`
	MissingModule string `json:"missing_module"`
}

func (e *probeError) String() string { return e.Type + ": " + e.Message }

type probeAdapter struct {
	Ref        string      `json:"ref"`
	OK         bool        `json:"ok"`
	Error      *probeError `json:"error"`
	ThreadSafe bool        `json:"thread_safe"`
	ModuleFile string      `json:"module_file"`
	Tools      []probeTool `json:"tools"`
}

type probeTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// probeFailure is a probe that could not report: the interpreter is missing or crashed.
type probeFailure struct {
	Python string
	Err    error
	Output string
}

func (f *probeFailure) Error() string {
	msg := fmt.Sprintf("cannot run the interpreter %s: %v", f.Python, f.Err)
	if out := strings.TrimSpace(f.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

// runProbe runs probe.py with the interpreter, directory and environment of opts, asking about the
// given adapters.
func runProbe(ctx context.Context, opts pools.Options, adapters ...string) (*probeReport, error) {
	python := opts.Python
	if python == "" {
		python = pools.DefaultPython
	}
	request, err := json.Marshal(map[string]any{"adapters": adapters})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reportR.Close()
	cmd := exec.CommandContext(ctx, python, "-c", probeSource, string(request))
	cmd.Dir = opts.Dir
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(opts.Env))
	for k := range opts.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+opts.Env[k])
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.ExtraFiles = []*os.File{reportW} // fd 3
	if err := cmd.Start(); err != nil {
		reportW.Close()
		return nil, &probeFailure{Python: python, Err: err}
	}
	reportW.Close()
	data, readErr := io.ReadAll(reportR)
	waitErr := cmd.Wait()
	if readErr != nil || waitErr != nil || len(data) == 0 {
		err := errors.Join(waitErr, readErr)
		if err == nil {
			err = errors.New("it wrote no report")
		}
		return nil, &probeFailure{Python: python, Err: err, Output: truncate(output.String(), 4000)}
	}
	var report probeReport
	if err := json.Unmarshal(data, &report); err != nil {
		return nil, &probeFailure{Python: python, Err: fmt.Errorf("unreadable report: %w", err), Output: truncate(string(data), 400)}
	}
	return &report, nil
}

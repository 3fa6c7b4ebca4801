package worker_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/worker"
)

// configErrorStarts are how the errors of ParseConfig begin: a line, yaml.v3's own syntax errors,
// or the section of the offending setting.
var configErrorStarts = []string{"line ", "yaml: ", "the file is empty", "more than one YAML document", "pools", "temporal"}

// FuzzLoadConfig feeds arbitrary bytes to LoadConfig as a config file. Its seeds are
// testdata/fuzz/FuzzLoadConfig (the bad configs of the tests and the findings of earlier runs) and
// the repository's example and deployment configs. Invariants:
//
//   - nothing panics;
//   - an error starts with "config <file>: ", then with the line or the setting it is about, and
//     is UTF-8;
//   - a config that loads validates, has its defaults applied (applying them again changes
//     nothing), has absolute paths (python with a slash, dir), a memory limit whose bytes do not
//     overflow, and its YAML encoding loads back to the same encoding.
//
// Run it with `go test -run='^$' -fuzz=FuzzLoadConfig ./worker` (`make fuzz-smoke` runs it briefly).
func FuzzLoadConfig(f *testing.F) {
	root := testenv.RepoRoot(f)
	var seeds []string
	for _, pattern := range []string{"examples/*.yaml", "examples/*/*.yaml", "deploy/*.yml"} {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, matches...)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "snakepool.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := worker.LoadConfig(path)
		if err != nil {
			checkConfigError(t, path, err)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a loaded config does not validate: %v", err)
		}
		if again := cfg.WithDefaults(); !equalYAML(t, again, cfg) {
			t.Fatalf("applying the defaults again changed the config")
		}
		for i, p := range cfg.Pools {
			if !filepath.IsAbs(p.Dir) || (strings.Contains(p.Python, "/") && !filepath.IsAbs(p.Python)) {
				t.Fatalf("pools[%d] has a relative path: dir %q, python %q", i, p.Dir, p.Python)
			}
			if p.Options().MaxWorkerMemory>>20 != p.MaxWorkerMemoryMB {
				t.Fatalf("pools[%d]: max_worker_memory_mb %d overflows to %d bytes", i, p.MaxWorkerMemoryMB, p.Options().MaxWorkerMemory)
			}
		}
		encoded, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("encode a loaded config: %v", err)
		}
		again, err := worker.ParseConfig(encoded, dir)
		if err != nil {
			t.Fatalf("a loaded config's encoding does not load: %v\n%s", err, encoded)
		}
		if !equalYAML(t, again, cfg) {
			t.Fatalf("the YAML round trip changed the config:\n%s", encoded)
		}
	})
}

// checkConfigError fails t unless err is what LoadConfig promises for the file at path.
func checkConfigError(t *testing.T, path string, err error) {
	t.Helper()
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("the message is not UTF-8: %q", msg)
	}
	rest, ok := strings.CutPrefix(msg, "config "+path+": ")
	if !ok {
		t.Fatalf("the message does not start with the file name: %q", msg)
	}
	for _, start := range configErrorStarts {
		if strings.HasPrefix(rest, start) {
			return
		}
	}
	t.Fatalf("the message names neither a line nor a setting: %q", msg)
}

// equalYAML reports whether a and b have the same YAML encoding.
func equalYAML(t *testing.T, a, b worker.Config) bool {
	t.Helper()
	ea, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ea, eb)
}

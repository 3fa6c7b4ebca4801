package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

func TestParseTakesFlagsAndArgumentsInAnyOrder(t *testing.T) {
	cases := []struct {
		args       []string
		positional []string
		value      string
	}{
		{[]string{"a", "b", "--x", "1"}, []string{"a", "b"}, "1"},
		{[]string{"--x", "1", "a", "b"}, []string{"a", "b"}, "1"},
		{[]string{"a", "--x=1", "b"}, []string{"a", "b"}, "1"},
		{[]string{"a", "--", "--x", "b"}, []string{"a", "--x", "b"}, ""},
		{nil, nil, ""},
	}
	for _, c := range cases {
		cmd := newCommand("t", "t", "t", io.Discard)
		x := cmd.flags.String("x", "", "")
		got, err := cmd.parse(c.args)
		require.NoError(t, err, c.args)
		assert.Equal(t, c.positional, got, c.args)
		assert.Equal(t, c.value, *x, c.args)
	}
	cmd := newCommand("t", "t", "t", io.Discard)
	_, err := cmd.parse([]string{"a", "--help"})
	assert.ErrorIs(t, err, errHelp)
	_, err = cmd.parse([]string{"--nope"})
	assert.Error(t, err)
}

func TestSatisfies(t *testing.T) {
	cases := []struct {
		version, spec string
		want          bool
	}{
		{"1.85.3", ">=1.85.1,<2", true},
		{"1.85.1", ">=1.85.1,<2", true},
		{"1.85.0", ">=1.85.1,<2", false},
		{"2.0.0", ">=1.85.1,<2", false},
		{"2.0rc1", ">=1.85.1,<2", false}, // "<2" excludes 2's pre-releases
		{"1.99.0rc1", ">=1.85.1,<2", true},
		{"7.36.2", "<8,>=7.35.1", true},
		{"8.0", "<8,>=7.35.1", false},
		{"1.86", "(>=1.85.1, <2)", true},
		{"3.11.7", ">=3.10", true},
		{"3.9.18", ">=3.10", false},
		{"1.2.3", "==1.2.*", true},
		{"1.3.0", "==1.2.*", false},
		{"1.3.0", "!=1.2.*", true},
		{"2.2.1", "~=2.2", true},
		{"3.0", "~=2.2", false},
		{"1.0.post1", ">1.0", false}, // ">1.0" excludes 1.0's post-releases (PEP 440)
		{"1.0", "", true},
		{"1.0+local.1", "==1.0", true},
	}
	for _, c := range cases {
		got, err := satisfies(c.version, c.spec)
		require.NoError(t, err, "%s %s", c.version, c.spec)
		assert.Equal(t, c.want, got, "%s %s", c.version, c.spec)
	}
	_, err := satisfies("banana", ">=1")
	assert.Error(t, err)
	_, err = satisfies("1.0", "1.0")
	assert.Error(t, err, "a clause without an operator")
}

func TestDisplaySpec(t *testing.T) {
	assert.Equal(t, ">=1.85.1,<2", displaySpec("<2,>=1.85.1"))
	assert.Equal(t, ">=1,!=1.5,<2", displaySpec(">=1, !=1.5, <2"))
}

func TestSplitRequirement(t *testing.T) {
	cases := []struct{ req, name, spec string }{
		{"grpcio>=1.85.1,<2", "grpcio", ">=1.85.1,<2"},
		{"grpcio (>=1.85.1,<2)", "grpcio", ">=1.85.1,<2"},
		{"pkg[extra] >= 1 ; python_version > '3'", "pkg", ">= 1"},
		{"plain", "plain", ""},
	}
	for _, c := range cases {
		name, spec := splitRequirement(c.req)
		assert.Equal(t, c.name, name, c.req)
		assert.Equal(t, c.spec, spec, c.req)
	}
}

func TestArgumentsText(t *testing.T) {
	schema := `{"type": "object", "properties": {
		"x": {"type": "number"},
		"epochs": {"type": "integer", "default": 10},
		"tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": null},
		"weights": {"type": "object", "additionalProperties": {"type": "number"}},
		"loss": {"enum": ["hinge", "log_loss"]},
		"anything": {},
		"maybe": {"type": "string"}},
		"required": ["x", "weights", "loss", "anything"], "additionalProperties": true}`
	assert.Equal(t, `x: number, epochs: integer = 10, tags: array of string | null = null, weights: object of number, `+
		`loss: one of ["hinge","log_loss"], anything: any, maybe: string (optional), **kwargs`, argumentsText(json.RawMessage(schema)))
	assert.Equal(t, "-", argumentsText(json.RawMessage(`{"type": "object", "properties": {}, "required": []}`)))
}

func TestNewProjectNames(t *testing.T) {
	cases := []struct{ dir, name, pkg, class string }{
		{"my-project", "", "my_project", "MyProjectAdapter"},
		{"/tmp/x/Churn Model/", "", "churn_model", "ChurnModelAdapter"},
		{"2024-models", "", "project_2024_models", "Project2024ModelsAdapter"},
		{"anything", "scorer", "scorer", "ScorerAdapter"},
	}
	for _, c := range cases {
		p, err := newProject(c.dir, c.name, ".venv/bin/python", defaultRequirement)
		require.NoError(t, err, c.dir)
		assert.Equal(t, c.pkg, p.Package, c.dir)
		assert.Equal(t, c.class, p.Class, c.dir)
		assert.Equal(t, c.pkg, p.Pool, c.dir)
		assert.Equal(t, "snakepool."+c.pkg, p.TaskQueue, c.dir)
	}
	for _, bad := range []struct{ dir, name, want string }{
		{"tests", "", "would shadow"},
		{"snakepool", "", "would shadow"},
		{"x", "My-Pkg", "is not a Python package name"},
		{"---", "", "is not a Python package name"},
		{"x", "class", "keyword"},
	} {
		_, err := newProject(bad.dir, bad.name, ".venv/bin/python", defaultRequirement)
		assert.ErrorContains(t, err, bad.want, bad)
	}
	_, err := newProject("x", "", "/my venv/bin/python", defaultRequirement)
	assert.ErrorContains(t, err, "without spaces")
}

func TestReadJSONArg(t *testing.T) {
	got, err := readJSONArg("--args", ` {"x": 1} `, true)
	require.NoError(t, err)
	assert.Equal(t, `{"x": 1}`, string(got))
	got, err = readJSONArg("--resume", `3`, false)
	require.NoError(t, err)
	assert.Equal(t, `3`, string(got))
	_, err = readJSONArg("--args", `3`, true)
	assert.ErrorContains(t, err, "--args must be a JSON object")
	_, err = readJSONArg("--args", `@/nonexistent/args.json`, true)
	assert.ErrorContains(t, err, "no such file")
}

func TestPoolLogShowsWhatAnAuthorNeeds(t *testing.T) {
	cases := []struct {
		name    string
		verbose bool
		log     func(l *slog.Logger)
		want    string
	}{
		{"a tool's print", false, func(l *slog.Logger) { l.Info("hello", "stream", "stdout") }, "[stdout] hello\n"},
		{"a tool's stderr", false, func(l *slog.Logger) { l.Warn("oops", "stream", "stderr") }, "[stderr] oops\n"},
		{"a tool's logger", false, func(l *slog.Logger) { l.Info("epoch 3", "logger", "snakepool.tool.train") }, "[snakepool.tool.train INFO] epoch 3\n"},
		{"a tool's debug line", false, func(l *slog.Logger) { l.Debug("detail", "logger", "snakepool.tool.train") }, ""},
		{"the server's info", false, func(l *slog.Logger) { l.Info("serving", "logger", "snakepool.server") }, ""},
		{"the server's info, verbose", true, func(l *slog.Logger) { l.Info("serving", "logger", "snakepool.server") }, "[snakepool.server INFO] serving\n"},
		{"the server's start failure (call prints it)", false, func(l *slog.Logger) {
			l.Error("cannot start adapter x:Y: ModuleNotFoundError", "logger", "snakepool.server")
		}, ""},
		{"the server's warning", false, func(l *slog.Logger) { l.Warn("GIL enabled", "logger", "snakepool.server") }, "[snakepool.server WARN] GIL enabled\n"},
		{"a pool warning", false, func(l *slog.Logger) { l.With("pool", "cli").Warn("worker crashed", "exit", 3) }, "[pool WARN] worker crashed exit=3\n"},
		{"a pool info", false, func(l *slog.Logger) { l.Info("worker started") }, ""},
		{"a pool info, verbose", true, func(l *slog.Logger) { l.With("pool", "cli").Info("worker started") }, "[pool INFO] worker started pool=cli\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		c.log(newPoolLogger(&console{w: &b}, c.verbose))
		assert.Equal(t, c.want, b.String(), c.name)
	}
}

func TestAdapterFix(t *testing.T) {
	opts := pools.Options{Adapter: "my_project.adapter:Model", Python: "/p/.venv/bin/python", Dir: "/p"}
	cases := []struct{ errType, message, want string }{
		{"ModuleNotFoundError", "No module named 'my_project'", "the adapter's module my_project.adapter is not importable by /p/.venv/bin/python from /p"},
		{"ModuleNotFoundError", "No module named 'my_project.adapter'", "the adapter's module my_project.adapter is not importable"},
		{"ModuleNotFoundError", "No module named 'torch'", `install what provides the module "torch" into the pool's interpreter: /p/.venv/bin/python -m pip install PACKAGE`},
		{"ThreadSafetyError", "...", "set __thread_safe__ = True"},
		{"AttributeError", "module 'my_project.adapter' has no attribute 'Model'", "check the class name"},
		{"TypeError", "x is not a subclass of snakepool.Adapter", "derive the class from snakepool.Adapter"},
		{"RuntimeError", "no model", "raised while importing my_project.adapter or in its setup()"},
	}
	for _, c := range cases {
		assert.Contains(t, adapterFix(opts, c.errType, c.message), c.want, c.errType+" "+c.message)
	}
}

// TestCheckInterpreter: the interpreter checks of doctor on probe reports of broken setups (the
// probe itself runs in the integration tests).
func TestCheckInterpreter(t *testing.T) {
	healthy := func() *probeReport {
		var r probeReport
		require.NoError(t, json.Unmarshal([]byte(`{
			"python": {"executable": "/v/bin/python", "version": "3.11.7", "implementation": "CPython"},
			"snakepool": {"installed": true, "version": "0.1.0", "file": "/v/snakepool/__init__.py", "protocol": 2,
				"requires_python": ">=3.10", "requires": ["grpcio>=1.85.1,<2", "protobuf>=7.35.1,<8"]},
			"packages": {"grpcio": {"requirement": "grpcio>=1.85.1,<2", "version": "1.85.3"},
				"protobuf": {"requirement": "protobuf<8,>=7.35.1", "version": "7.36.2"}},
			"bridge": {"ok": true}}`), &r))
		return &r
	}
	cases := []struct {
		name   string
		change func(r *probeReport)
		ok     bool
		want   []string
	}{
		{"healthy", func(*probeReport) {}, true, []string{"ok    grpcio 1.85.3 (snakepool requires >=1.85.1,<2)",
			"ok    protobuf 7.36.2 (snakepool requires >=7.35.1,<8)", "ok    the bridge code imports"}},
		{"an old grpcio", func(r *probeReport) {
			p := r.Packages["grpcio"]
			p.Version = "1.60.0"
			r.Packages["grpcio"] = p
		}, false, []string{"FAIL  grpcio 1.60.0 is outside the range snakepool declares (>=1.85.1,<2)",
			"fix: /v/bin/python -m pip install 'grpcio>=1.85.1,<2'"}},
		{"protobuf missing", func(r *probeReport) {
			p := r.Packages["protobuf"]
			p.Version = ""
			r.Packages["protobuf"] = p
		}, false, []string{"FAIL  protobuf is not installed (snakepool requires protobuf<8,>=7.35.1)"}},
		{"an old Python", func(r *probeReport) { r.Python.Version = "3.9.18" }, false,
			[]string{"FAIL  Python 3.9.18 is outside the range snakepool declares (>=3.10)"}},
		{"the bridge does not import", func(r *probeReport) {
			r.Bridge.OK = false
			r.Bridge.Error = &probeError{Type: "ImportError", Message: "cannot import name 'runtime_version'"}
		}, false, []string{"FAIL  the bridge code (grpc and the generated protocol modules) does not import: ImportError",
			"--force-reinstall"}},
		{"snakepool missing", func(r *probeReport) {
			r.Snakepool.Installed = false
			r.Snakepool.Error = &probeError{Type: "ModuleNotFoundError", Message: "No module named 'snakepool'"}
		}, false, []string{"FAIL  snakepool is not importable: ModuleNotFoundError", "fix: install the snakepool package into this interpreter: /v/bin/python -m pip install"}},
		{"no metadata", func(r *probeReport) {
			r.Snakepool.MetadataError = &probeError{Type: "PackageNotFoundError"}
			r.Packages = nil
		}, true, []string{"warn  snakepool's package metadata is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := healthy()
			c.change(r)
			var out bytes.Buffer
			d := &doctor{w: &out}
			assert.Equal(t, c.ok, d.checkInterpreter("/v/bin/python", r, nil, selection{}))
			for _, w := range c.want {
				assert.Contains(t, out.String(), w)
			}
		})
	}
}

func TestTemporalOverrides(t *testing.T) {
	env := map[string]string{"SNAKEPOOL_TEMPORAL_ADDRESS": "env:7233", "SNAKEPOOL_NAMESPACE": "env-ns", "SNAKEPOOL_API_KEY": "k"}
	getenv := func(k string) string { return env[k] }
	tc := temporalConfig("file:7233", "file-ns")
	applyTemporalOverrides(&tc, temporalFlags{}, getenv)
	assert.Equal(t, "env:7233", tc.Address)
	assert.Equal(t, "env-ns", tc.Namespace)
	assert.Equal(t, "k", tc.APIKey)
	tc = temporalConfig("file:7233", "file-ns")
	applyTemporalOverrides(&tc, temporalFlags{address: "flag:7233"}, getenv)
	assert.Equal(t, "flag:7233", tc.Address, "a flag beats the environment")
	tc = temporalConfig("file:7233", "file-ns")
	applyTemporalOverrides(&tc, temporalFlags{}, func(string) string { return "" })
	assert.Equal(t, "file:7233", tc.Address)
}

func TestEveryVerbHasHelp(t *testing.T) {
	for name := range verbs {
		t.Run(name, func(t *testing.T) {
			s := newSession(nil)
			code := s.env.run([]string{name, "--help"})
			assert.Equal(t, exitOK, code)
			help := s.stderr.String()
			assert.Contains(t, help, "usage: snakepool "+name)
			if name != "version" {
				assert.Contains(t, help, "flags:")
			}
			s = newSession(nil)
			assert.Equal(t, exitOK, s.env.run([]string{"help", name}))
			assert.Equal(t, help, s.stderr.String(), "snakepool help VERB is VERB --help")
		})
	}
	s := newSession(nil)
	assert.Equal(t, exitOK, s.env.run([]string{"--help"}))
	for name := range verbs {
		assert.Contains(t, s.stdout.String(), "  "+name+" ")
	}
	s = newSession(nil)
	assert.Equal(t, exitUsage, s.env.run([]string{"frobnicate"}))
	assert.Contains(t, s.stderr.String(), `unknown command "frobnicate"`)
	s = newSession(nil)
	assert.Equal(t, exitUsage, s.env.run(nil))
}

func temporalConfig(address, namespace string) worker.TemporalConfig {
	return worker.TemporalConfig{Address: address, Namespace: namespace}
}

func TestHeartbeatDetailsAreShortenedUnlessFull(t *testing.T) {
	assert.Equal(t, "(no details)", detailsText(nil, false))
	assert.Equal(t, `{"epoch":1}`, detailsText(json.RawMessage(`{"epoch": 1}`), false))
	long := json.RawMessage(`{"w":"` + strings.Repeat("x", 300) + `"}`)
	short := detailsText(long, false)
	assert.Equal(t, `{"w":"`+strings.Repeat("x", heartbeatWidth-6)+`... (308 bytes)`, short)
	assert.Equal(t, string(long), detailsText(long, true))
}

func TestWrap(t *testing.T) {
	assert.Equal(t, []string{"a: int, b: str,", "c: float"}, wrap([]string{"a: int", "b: str", "c: float"}, ", ", 15))
	assert.Equal(t, []string{"one two", "three"}, wrap([]string{"one", "two", "three"}, " ", 8))
	assert.Equal(t, []string{"unbreakable-word", "x"}, wrap([]string{"unbreakable-word", "x"}, " ", 5))
	assert.Nil(t, wrap(nil, " ", 5))
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/snakepool/snakepool/pools"
	"github.com/snakepool/snakepool/worker"
)

// showcaseAdapter is the adapter doctor starts a worker of when it has neither a config nor an
// adapter: it ships with the snakepool package.
const showcaseAdapter = "snakepool.examples.showcase:ShowcaseAdapter"

// Statuses of a finding.
const (
	statusOK   = "ok"
	statusFail = "FAIL"
	statusWarn = "warn"
	statusSkip = "skip"
)

// finding is the outcome of one check.
type finding struct {
	Section   string `json:"section"`
	Status    string `json:"status"`
	Detail    string `json:"detail"`
	Fix       string `json:"fix,omitempty"`
	Traceback string `json:"traceback,omitempty"`
}

// doctor runs the checks and prints each finding as it comes (or collects them for --json).
type doctor struct {
	w        io.Writer
	asJSON   bool
	section  string
	findings []finding
}

func (d *doctor) begin(section string) {
	d.section = section
	if !d.asJSON {
		fmt.Fprintf(d.w, "\n%s\n", section)
	}
}

// add records a finding and returns whether it passed (ok or warn).
func (d *doctor) add(status, detail, fix, traceback string) bool {
	f := finding{Section: d.section, Status: status, Detail: detail, Fix: fix, Traceback: strings.TrimRight(traceback, "\n")}
	d.findings = append(d.findings, f)
	if !d.asJSON {
		fmt.Fprintf(d.w, "  %-4s  %s\n", status, indentRest(detail, "        "))
		if f.Traceback != "" {
			fmt.Fprintf(d.w, "        %s\n", indentRest(f.Traceback, "        "))
		}
		if fix != "" {
			fmt.Fprintf(d.w, "        fix: %s\n", indentRest(fix, "        "))
		}
	}
	return status == statusOK || status == statusWarn
}

func (d *doctor) ok(detail string) bool { return d.add(statusOK, detail, "", "") }

func (d *doctor) fail(detail, fix string) bool { return d.add(statusFail, detail, fix, "") }

func (d *doctor) problems() int {
	n := 0
	for _, f := range d.findings {
		if f.Status == statusFail {
			n++
		}
	}
	return n
}

func indentRest(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// temporalFlags override the config's Temporal settings, as the worker's flags and environment do.
type temporalFlags struct {
	address, namespace string
}

func runDoctor(ctx context.Context, e *env, args []string) int {
	var t targetFlags
	var tf temporalFlags
	var asJSON, skipTemporal, noStart bool
	var timeout time.Duration
	c := newCommand("doctor", "snakepool doctor [--config FILE] [flags]\n       snakepool doctor ADAPTER [flags]",
		`Checks a setup step by step and prints each problem with its fix:
  - each pool's interpreter: its Python version, the installed snakepool (version, bridge protocol),
    its requirements (grpcio, protobuf) in the range snakepool declares, the generated bridge code;
  - each pool's adapter: that it imports in the pool's directory, its tools, thread safety for the
    thread profile, the config's per-tool settings; then that a real worker of it starts (import,
    setup(), handshake and protocol check with this binary, Describe);
  - with a config: the Temporal connection (address, TLS, API key), the namespace, and that the
    Pipeline task queue and each pool's task queue have pollers (a worker serving them).
Without an adapter or a config (and no snakepool.yaml here) it checks the interpreter with the
showcase adapter that ships with snakepool. SNAKEPOOL_TEMPORAL_ADDRESS, SNAKEPOOL_NAMESPACE and
SNAKEPOOL_API_KEY override the config as they do for snakepool-worker.

Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or an unreadable config.`, e.stderr,
		`snakepool doctor --config snakepool.yaml`,
		`snakepool doctor mypkg.mod:Adapter --python .venv/bin/python`,
		`snakepool doctor --python .venv/bin/python   # just the interpreter`)
	t.register(c.flags)
	c.flags.StringVar(&tf.address, "temporal-address", "", "Temporal frontend `host:port` (default: the config's temporal.address)")
	c.flags.StringVar(&tf.namespace, "namespace", "", "Temporal `namespace` (default: the config's temporal.namespace)")
	c.flags.BoolVar(&skipTemporal, "skip-temporal", false, "skip the Temporal checks")
	c.flags.BoolVar(&noStart, "no-start", false, "do not start a worker of each adapter (its setup() would take too long)")
	c.flags.DurationVar(&timeout, "timeout", 10*time.Second, "bound of each Temporal request")
	c.flags.BoolVar(&asJSON, "json", false, "print the findings as JSON")
	adapter, code := c.parseOptionalArg(args)
	if code >= 0 {
		return code
	}
	smoke := false
	if adapter == "" && t.config == "" && !fileExists(defaultConfig) {
		adapter, smoke = showcaseAdapter, true
	}
	sel, err := t.resolve(c.flags, adapter, false, e.getenv)
	if err != nil {
		return e.usageError("doctor", err)
	}
	d := &doctor{w: e.stdout, asJSON: asJSON}
	if !asJSON {
		switch {
		case sel.ConfigPath != "":
			fmt.Fprintf(e.stdout, "snakepool doctor: config %s\n", sel.ConfigPath)
		case smoke:
			fmt.Fprintf(e.stdout, "snakepool doctor: no adapter or config given (and no %s here): checking the interpreter with %s\n", defaultConfig, showcaseAdapter)
		default:
			fmt.Fprintf(e.stdout, "snakepool doctor: adapter %s\n", adapter)
		}
	}
	checked := map[string]*probeReport{}
	for _, target := range sel.Targets {
		d.checkTarget(ctx, target, sel, checked, noStart)
	}
	if sel.ConfigPath != "" && !skipTemporal {
		cfg := sel.Config
		applyTemporalOverrides(&cfg.Temporal, tf, e.getenv)
		d.checkTemporal(ctx, cfg, sel, timeout)
	}
	problems := d.problems()
	if asJSON {
		data, _ := json.MarshalIndent(struct {
			OK       bool      `json:"ok"`
			Findings []finding `json:"findings"`
		}{problems == 0, d.findings}, "", "  ")
		fmt.Fprintln(e.stdout, string(data))
	} else if problems == 0 {
		fmt.Fprintf(e.stdout, "\nall %d checks passed\n", len(d.findings))
	} else {
		fmt.Fprintf(e.stdout, "\n%d of %d checks failed\n", problems, len(d.findings))
	}
	if problems > 0 {
		return exitFailed
	}
	return exitOK
}

// checkTarget checks a pool's interpreter (once per interpreter) and adapter.
func (d *doctor) checkTarget(ctx context.Context, target target, sel selection, checked map[string]*probeReport, noStart bool) {
	opts := target.Options
	python := opts.Python
	if python == "" {
		python = pools.DefaultPython
	}
	report, probeErr := runProbe(ctx, opts, opts.Adapter)
	key := python
	if report != nil {
		key = report.Python.Executable
	}
	interpreterOK := true
	if prev, seen := checked[key]; !seen {
		d.begin("interpreter " + python)
		interpreterOK = d.checkInterpreter(python, report, probeErr, sel)
		if interpreterOK {
			checked[key] = report
		} else {
			checked[key] = nil
		}
	} else {
		interpreterOK = prev != nil
	}

	if target.Pool == cliPool {
		d.begin("adapter " + opts.Adapter)
	} else {
		d.begin(fmt.Sprintf("pool %s (%s)", target.Pool, opts.Adapter))
	}
	if !interpreterOK || report == nil || len(report.Adapters) == 0 {
		d.add(statusSkip, "skipped: the interpreter has problems (above)", "", "")
		return
	}
	a := report.Adapters[0]
	adapterOK := true
	if !a.OK {
		adapterOK = d.add(statusFail, fmt.Sprintf("%s does not import in %s: %s", opts.Adapter, report.Cwd, a.Error),
			adapterFix(opts, a.Error.Type, a.Error.Message), a.Error.Traceback)
	} else {
		names := make([]string, len(a.Tools))
		for i, tool := range a.Tools {
			names[i] = tool.Name
		}
		detail := fmt.Sprintf("%s imports (%s): %d tools: %s", opts.Adapter, a.ModuleFile, len(names), strings.Join(names, ", "))
		if len(names) == 0 {
			adapterOK = d.fail(detail, "mark the adapter's methods with @tool (from snakepool import tool)")
		} else {
			d.ok(detail)
		}
		if opts.Profile == pools.ProfileThread && !a.ThreadSafe {
			adapterOK = d.fail("the pool's profile is thread but the adapter does not declare __thread_safe__ = True",
				adapterFix(opts, "ThreadSafetyError", ""))
		}
		adapterOK = d.checkToolSettings(target, names, sel.ConfigPath) && adapterOK
	}
	if noStart {
		d.add(statusSkip, "worker start skipped (--no-start)", "", "")
		return
	}
	if !adapterOK {
		d.add(statusSkip, "worker start skipped: fix the problems above first", "", "")
		return
	}
	d.checkStart(ctx, target, report)
}

// checkInterpreter reports on the probe of an interpreter; it returns whether a worker can run on it.
func (d *doctor) checkInterpreter(python string, report *probeReport, probeErr error, sel selection) bool {
	if probeErr != nil {
		where := "--python"
		if sel.ConfigPath != "" {
			where = "the pool's `python` in " + sel.ConfigPath + " (or --python)"
		}
		return d.fail(probeErr.Error(), fmt.Sprintf("check %s: it must be a Python 3.10+ interpreter with the snakepool package, "+
			"e.g. a virtualenv's bin/python (python3 -m venv .venv && .venv/bin/pip install %s)", where, installSources))
	}
	py := report.Python
	ok := d.ok(fmt.Sprintf("Python %s (%s, %s)", py.Version, py.Implementation, py.Executable))
	sp := report.Snakepool
	if !sp.Installed {
		d.fail("snakepool is not importable: "+sp.Error.String(), installFix(python))
		return false
	}
	d.ok(fmt.Sprintf("snakepool %s (%s), bridge protocol %d", sp.Version, sp.File, sp.Protocol))
	if sp.MetadataError != nil {
		d.add(statusWarn, "snakepool's package metadata is missing (imported from a path, not installed with pip): "+
			"its requirements cannot be checked", installFix(python), "")
	}
	if sp.RequiresPython != "" {
		if fits, err := satisfies(py.Version, sp.RequiresPython); err == nil && !fits {
			ok = d.fail(fmt.Sprintf("Python %s is outside the range snakepool declares (%s)", py.Version, sp.RequiresPython),
				"make the virtualenv with a Python that fits: python3.12 -m venv .venv") && ok
		}
	}
	names := make([]string, 0, len(report.Packages))
	for name := range report.Packages {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := report.Packages[name]
		_, spec := splitRequirement(p.Requirement)
		shown := displaySpec(spec)
		switch fits, err := satisfies(p.Version, spec); {
		case p.Version == "":
			ok = d.fail(fmt.Sprintf("%s is not installed (snakepool requires %s)", name, p.Requirement), requirementFix(python, p.Requirement)) && ok
		case err != nil:
			d.add(statusWarn, fmt.Sprintf("%s %s: cannot check against %s: %v", name, p.Version, shown, err), "", "")
		case !fits:
			ok = d.fail(fmt.Sprintf("%s %s is outside the range snakepool declares (%s)", name, p.Version, shown),
				requirementFix(python, name+shown)) && ok
		default:
			d.ok(fmt.Sprintf("%s %s (snakepool requires %s)", name, p.Version, shown))
		}
	}
	if report.Bridge != nil && !report.Bridge.OK {
		ok = d.add(statusFail, "the bridge code (grpc and the generated protocol modules) does not import: "+report.Bridge.Error.String(),
			fmt.Sprintf("reinstall snakepool with its requirements: %s -m pip install --force-reinstall %s", python, installSources),
			report.Bridge.Error.Traceback) && ok
	} else if report.Bridge != nil {
		d.ok("the bridge code imports (grpc, snakepool.bridge.v1)")
	}
	return ok
}

// checkToolSettings checks that the config's per-tool settings name tools of the adapter.
func (d *doctor) checkToolSettings(target target, tools []string, configPath string) bool {
	ok := true
	for _, name := range target.Tools {
		found := false
		for _, tool := range tools {
			found = found || tool == name
		}
		if !found {
			ok = d.fail(fmt.Sprintf("%s: pools[%s].tools.%s names no tool of the adapter", configPath, target.Pool, name),
				"fix the tool's name under `tools:` (the adapter's tools are listed above)")
		}
	}
	return ok
}

// checkStart starts one real worker of the pool, as snakepool-worker would, and stops it.
func (d *doctor) checkStart(ctx context.Context, target target, report *probeReport) {
	opts := target.Options
	opts.Logger = slog.New(slog.DiscardHandler)
	begin := time.Now()
	pool, err := pools.Start(ctx, opts)
	if err != nil {
		var ae *pools.AdapterError
		switch {
		case errors.As(err, &ae):
			d.add(statusFail, fmt.Sprintf("a worker does not start: %s: %s", ae.Type, ae.Message), adapterFix(opts, ae.Type, ae.Message), ae.Traceback)
		case strings.Contains(err.Error(), "protocol"):
			d.fail("a worker does not start: "+err.Error(), fmt.Sprintf("this binary and the snakepool package in %s (%s) speak different bridge protocols: "+
				"install the package of the same snakepool release as the binary, or rebuild the binary (docs/install.md)",
				report.Python.Executable, report.Snakepool.Version))
		default:
			d.fail("a worker does not start: "+err.Error(), "see the error; a slow setup() needs a longer start_timeout in the config")
		}
		return
	}
	elapsed := time.Since(begin).Round(time.Millisecond)
	info := pool.Interpreter()
	stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopErr := pool.Stop(stopCtx)
	d.ok(fmt.Sprintf("a worker starts in %s (setup(), handshake, bridge protocol %d, %s profile, %d call(s) at once) and stops",
		elapsed, report.Snakepool.Protocol, info.Mode, info.MaxWorkers))
	if stopErr != nil {
		d.add(statusWarn, "stopping it: "+stopErr.Error(), "", "")
	}
}

// applyTemporalOverrides applies the flags, then the environment, as snakepool-worker does.
func applyTemporalOverrides(c *worker.TemporalConfig, tf temporalFlags, getenv func(string) string) {
	for _, o := range []struct {
		flag, env string
		dst       *string
	}{
		{tf.address, "SNAKEPOOL_TEMPORAL_ADDRESS", &c.Address},
		{tf.namespace, "SNAKEPOOL_NAMESPACE", &c.Namespace},
	} {
		switch {
		case o.flag != "":
			*o.dst = o.flag
		case getenv(o.env) != "":
			*o.dst = getenv(o.env)
		}
	}
	if key := getenv("SNAKEPOOL_API_KEY"); key != "" {
		c.APIKey, c.APIKeyFile = key, ""
	}
}

// checkTemporal checks the connection, the namespace and the pollers of every task queue the
// config's worker serves.
func (d *doctor) checkTemporal(ctx context.Context, cfg worker.Config, sel selection, timeout time.Duration) {
	tc := cfg.Temporal
	d.begin(fmt.Sprintf("temporal %s (namespace %s)", tc.Address, tc.Namespace))
	opts, err := tc.ClientOptions()
	if err != nil {
		d.fail("the client settings: "+err.Error(), "fix temporal.tls / temporal.api_key_file in "+sel.ConfigPath)
		return
	}
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.DialContext(dialCtx, opts)
	if err != nil {
		d.fail(fmt.Sprintf("cannot reach Temporal at %s: %v", tc.Address, err),
			fmt.Sprintf("start a server (bin/temporal server start-dev, or temporal server start-dev) or point temporal.address in %s "+
				"(or --temporal-address, SNAKEPOOL_TEMPORAL_ADDRESS) at yours; Temporal Cloud also needs TLS or an API key", sel.ConfigPath))
		return
	}
	defer c.Close()
	reqCtx, cancelReq := context.WithTimeout(ctx, timeout)
	defer cancelReq()
	info, err := c.WorkflowService().GetSystemInfo(reqCtx, &workflowservice.GetSystemInfoRequest{})
	if err == nil {
		d.ok(fmt.Sprintf("connected to %s (server %s)", tc.Address, info.GetServerVersion()))
	} else {
		d.ok(fmt.Sprintf("connected to %s", tc.Address))
	}
	_, err = c.WorkflowService().DescribeNamespace(reqCtx, &workflowservice.DescribeNamespaceRequest{Namespace: tc.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	var plainNotFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) || errors.As(err, &plainNotFound):
		d.fail(fmt.Sprintf("namespace %q does not exist", tc.Namespace),
			fmt.Sprintf("temporal operator namespace create --namespace %s (or set temporal.namespace in %s)", tc.Namespace, sel.ConfigPath))
		return
	case err != nil:
		d.fail(fmt.Sprintf("cannot describe namespace %q: %v", tc.Namespace, err), "check the API key or certificate's permissions on the namespace")
		return
	default:
		d.ok(fmt.Sprintf("namespace %s exists", tc.Namespace))
	}
	fix := fmt.Sprintf("start a worker for this config: snakepool-worker --config %s", sel.ConfigPath)
	d.checkPollers(reqCtx, c, tc.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW, "the Pipeline workflow", fix)
	for _, target := range sel.Targets {
		d.checkPollers(reqCtx, c, target.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY, "pool "+target.Pool+"'s activities", fix)
	}
}

func (d *doctor) checkPollers(ctx context.Context, c client.Client, taskQueue string, kind enumspb.TaskQueueType, what, fix string) {
	resp, err := c.DescribeTaskQueue(ctx, taskQueue, kind)
	if err != nil {
		d.fail(fmt.Sprintf("cannot describe task queue %s (%s): %v", taskQueue, what, err), "check the connection and permissions")
		return
	}
	pollers := resp.GetPollers()
	if len(pollers) == 0 {
		d.fail(fmt.Sprintf("task queue %s (%s): no worker polls it", taskQueue, what), fix)
		return
	}
	names := make([]string, 0, len(pollers))
	for _, p := range pollers {
		seen := ""
		if t := p.GetLastAccessTime(); t != nil {
			seen = fmt.Sprintf(", seen %s ago", time.Since(t.AsTime()).Round(time.Second))
		}
		names = append(names, p.GetIdentity()+seen)
	}
	d.ok(fmt.Sprintf("task queue %s (%s): %d poller(s): %s", taskQueue, what, len(pollers), strings.Join(names, "; ")))
}

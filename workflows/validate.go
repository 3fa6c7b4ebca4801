package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	argPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// node is a step of a compiled pipeline.
type node struct {
	step *Step
	kind stepKind
	// key is the step's JSON path, e.g. "steps[2].parallel[0]": unique, used in activity IDs.
	key string
	// top is the index of the top-level step that holds it.
	top int
	// index is the step's position in plan.nodes (document order).
	index    int
	children []*node
	// opts are the step's options over its groups' and the pipeline's defaults.
	opts StepOptions
	// args is the decoded args (nil: {}); argsRaw is passed untouched when !argsSpecial.
	args        any
	argsSpecial bool
	// over is the decoded map list (or reference); overLen is its length when it is a literal
	// list, -1 when it is only known at run time.
	over    any
	overLen int
}

// label names the step in messages: its name; "#<index> <tool>" for a top-level step without one;
// "<path> <tool>" for a nested step without one.
func (n *node) label() string {
	if n.step.Name != "" {
		return n.step.Name
	}
	if n.key == fmt.Sprintf("steps[%d]", n.top) {
		return n.step.DisplayName(n.top)
	}
	if n.step.Tool == "" {
		return n.key
	}
	return n.key + " " + n.step.Tool
}

// id is the step's activity ID (a map item's is "<id>/<index>"): its name, or its path when it
// has none. Names cannot contain "[", so the two never collide.
func (n *node) id() string {
	if n.step.Name != "" {
		return n.step.Name
	}
	return n.key
}

// plan is a validated pipeline.
type plan struct {
	spec   PipelineSpec
	roots  []*node
	nodes  []*node // document order
	byName map[string]*node
}

// Validate checks the spec; the error is a *SpecError naming the first offending field.
func (s PipelineSpec) Validate() error {
	if _, err := compile(s); err != nil {
		return err
	}
	return nil
}

// compile validates the spec and builds its plan. The error is a *SpecError.
func compile(s PipelineSpec) (*plan, error) {
	if s.decodeErr != nil {
		return nil, s.decodeErr
	}
	if len(s.Steps) == 0 {
		return nil, &SpecError{Field: "steps", Step: -1, Problem: "at least one step is required"}
	}
	if p := s.Defaults.validate(); p.field != "" {
		return nil, &SpecError{Field: "defaults." + p.field, Step: -1, Problem: p.problem}
	}
	c := &compiler{p: &plan{spec: s, byName: map[string]*node{}}}
	// Names first: references are parsed against all names, then checked for visibility.
	if err := c.collect(s.Steps, "steps", -1); err != nil {
		return nil, err
	}
	visible := map[string]bool{}
	for i := range s.Steps {
		n, err := c.build(&s.Steps[i], fmt.Sprintf("steps[%d]", i), i, s.Defaults, visible)
		if err != nil {
			return nil, err
		}
		c.p.roots = append(c.p.roots, n)
		visible = withNames(visible, n)
	}
	return c.p, nil
}

type compiler struct {
	p *plan
}

func (c *compiler) collect(steps []Step, prefix string, top int) error {
	for i := range steps {
		step := &steps[i]
		key := fmt.Sprintf("%s[%d]", prefix, i)
		t := top
		if t < 0 {
			t = i
		}
		if step.Name != "" {
			bad := &SpecError{Field: key + ".name", Step: t, StepPath: key, StepName: step.Name}
			if !namePattern.MatchString(step.Name) {
				bad.Problem = "must match [A-Za-z0-9_.-]+"
				return bad
			}
			if other, dup := c.p.byName[step.Name]; dup {
				bad.Problem = "duplicate of step " + other.key
				if other.key == fmt.Sprintf("steps[%d]", other.top) {
					bad.Problem = fmt.Sprintf("duplicate of step %d", other.top)
				}
				return bad
			}
			c.p.byName[step.Name] = &node{step: step, key: key, top: t}
		}
		if err := c.collect(step.Parallel, key+".parallel", t); err != nil {
			return err
		}
		if err := c.collect(step.Steps, key+".steps", t); err != nil {
			return err
		}
	}
	return nil
}

// withNames returns visible plus the names of n and of every step inside it.
func withNames(visible map[string]bool, n *node) map[string]bool {
	out := maps.Clone(visible)
	var add func(*node)
	add = func(n *node) {
		if n.step.Name != "" {
			out[n.step.Name] = true
		}
		for _, ch := range n.children {
			add(ch)
		}
	}
	add(n)
	return out
}

func (c *compiler) build(step *Step, key string, top int, inherited StepOptions, visible map[string]bool) (*node, error) {
	n := &node{step: step, key: key, top: top, index: len(c.p.nodes), overLen: -1}
	c.p.nodes = append(c.p.nodes, n)
	if step.Name != "" {
		c.p.byName[step.Name] = n
	}
	bad := func(field, problem string) error {
		return &SpecError{Field: key + "." + field, Step: top, StepPath: key, StepName: step.Name, Problem: problem}
	}
	if p := step.StepOptions.validate(); p.field != "" {
		return nil, bad(p.field, p.problem)
	}
	n.opts = step.StepOptions.over(inherited)

	switch {
	case step.Parallel != nil && step.Steps != nil:
		return nil, bad("steps", `a step has "parallel" or "steps", not both`)
	case step.Parallel != nil || step.Steps != nil:
		n.kind = kindSequence
		field, members := "steps", step.Steps
		if step.Parallel != nil {
			n.kind, field, members = kindParallel, "parallel", step.Parallel
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"pool", step.Pool != ""}, {"tool", step.Tool != ""}, {"args", len(step.Args) > 0}, {"task_queue", step.TaskQueue != ""}, {"map", step.Map != nil}} {
			if f.set {
				return nil, bad(f.name, fmt.Sprintf("not allowed in a group (a step with %q)", field))
			}
		}
		if len(members) == 0 {
			return nil, bad(field, "must hold at least one step")
		}
		seen := visible
		for i := range members {
			ch, err := c.build(&members[i], fmt.Sprintf("%s.%s[%d]", key, field, i), top, n.opts, seen)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, ch)
			if n.kind == kindSequence {
				seen = withNames(seen, ch)
			}
		}
		return n, nil
	}

	n.kind = kindTool
	if step.Map != nil {
		n.kind = kindMap
	}
	if strings.TrimSpace(step.Pool) == "" {
		return nil, bad("pool", "required")
	}
	if !namePattern.MatchString(step.Pool) {
		return nil, bad("pool", "must match [A-Za-z0-9_.-]+ (a pool name from the worker's config)")
	}
	if strings.TrimSpace(step.Tool) == "" {
		return nil, bad("tool", "required")
	}
	if strings.ContainsAny(step.Tool, " \t\r\n") {
		return nil, bad("tool", "must not contain white space")
	}
	itemRefs := 0
	checkRef := func(allowItem bool) func(path, text string) error {
		return func(path, text string) error {
			ref, err := parseRef(text, c.p.byName)
			if err != nil {
				return &refError{path: path, ref: text, problem: err.Error()}
			}
			if ref.item {
				if !allowItem {
					return &refError{path: path, ref: text, problem: "only a map step's args can refer to the item"}
				}
				itemRefs++
				return nil
			}
			if !visible[ref.step] {
				return &refError{path: path, ref: text, problem: fmt.Sprintf(
					"step %s (%q) has not finished when this step starts: refer to steps before it (not to itself, later steps, or steps in parallel with it)",
					c.p.byName[ref.step].key, ref.step)}
			}
			return nil
		}
	}
	asRefError := func(err error) error {
		var re *refError
		if errors.As(err, &re) {
			field, _ := strings.CutPrefix(re.path, key+".")
			problem := re.problem
			if re.ref != "" {
				problem = fmt.Sprintf("reference %q: %s", re.ref, re.problem)
			}
			return bad(field, problem)
		}
		return err
	}
	if len(step.Args) > 0 && !bytes.Equal(bytes.TrimSpace(step.Args), []byte("null")) {
		args, err := decodeJSON(step.Args)
		if _, isObject := args.(map[string]any); err != nil || !isObject {
			return nil, bad("args", "must be a JSON object")
		}
		n.args = args
		n.argsSpecial = mightHaveSpecials(step.Args)
		if err := walkRefs(args, key+".args", checkRef(n.kind == kindMap)); err != nil {
			return nil, asRefError(err)
		}
	}
	if n.kind == kindTool {
		return n, nil
	}

	m := step.Map
	if len(bytes.TrimSpace(m.Over)) == 0 || bytes.Equal(bytes.TrimSpace(m.Over), []byte("null")) {
		return nil, bad("map.over", "required: a list, or a reference to one")
	}
	over, err := decodeJSON(m.Over)
	if err != nil {
		return nil, bad("map.over", "not valid JSON")
	}
	switch o := over.(type) {
	case []any:
		n.overLen = len(o)
	case map[string]any:
		switch k, err := special(o); {
		case err != nil:
			return nil, bad("map.over", err.Error())
		case k == literalKey:
			list, ok := o[literalKey].([]any)
			if !ok {
				return nil, bad("map.over", "must be a list, not "+describeJSON(o[literalKey]))
			}
			n.overLen = len(list)
		case k == "":
			return nil, bad("map.over", `must be a list or a reference ({"$ref": "steps.<name>.result..."}), not an object`)
		}
	default:
		return nil, bad("map.over", "must be a list or a reference, not "+describeJSON(o))
	}
	n.over = over
	if err := walkRefs(over, key+".map.over", checkRef(false)); err != nil {
		return nil, asRefError(err)
	}
	if m.As != "" {
		if !argPattern.MatchString(m.As) {
			return nil, bad("map.as", "must be an argument name ([A-Za-z_][A-Za-z0-9_]*)")
		}
		if args, ok := n.args.(map[string]any); ok {
			if _, dup := args[m.As]; dup {
				return nil, bad("map.as", fmt.Sprintf("args already has %q", m.As))
			}
		}
	} else if itemRefs == 0 {
		return nil, bad("map.as", `required unless args refer to the item with {"$ref": "item"}`)
	}
	switch {
	case m.Concurrency < 0:
		return nil, bad("map.concurrency", fmt.Sprintf("must be at least 1, not %d", m.Concurrency))
	case m.ChunkSize < 0 || m.ChunkSize > MaxMapChunkSize:
		return nil, bad("map.chunk_size", fmt.Sprintf("must be from 1 to %d, not %d", MaxMapChunkSize, m.ChunkSize))
	case m.Offset < 0:
		return nil, bad("map.offset", fmt.Sprintf("must not be negative, not %d", m.Offset))
	}
	return n, nil
}

// concurrency and chunkSize of a map step, defaults applied.
func (n *node) concurrency() int {
	if c := n.step.Map.Concurrency; c > 0 {
		return c
	}
	return DefaultMapConcurrency
}

func (n *node) chunkSize() int {
	if c := n.step.Map.ChunkSize; c > 0 {
		return c
	}
	return DefaultMapChunkSize
}

type fieldProblem struct{ field, problem string }

func (o StepOptions) validate() fieldProblem {
	durations := []struct {
		field, value string
	}{
		{"start_to_close_timeout", o.StartToCloseTimeout},
		{"schedule_to_start_timeout", o.ScheduleToStartTimeout},
		{"heartbeat_timeout", o.HeartbeatTimeout},
	}
	if o.Retry != nil {
		durations = append(durations,
			struct{ field, value string }{"retry.initial_interval", o.Retry.InitialInterval},
			struct{ field, value string }{"retry.maximum_interval", o.Retry.MaximumInterval})
	}
	for _, d := range durations {
		if d.value == "" {
			continue
		}
		if _, err := parsePositiveDuration(d.value); err != nil {
			return fieldProblem{d.field, err.Error()}
		}
	}
	if r := o.Retry; r != nil {
		if r.BackoffCoefficient != 0 && r.BackoffCoefficient < 1 {
			return fieldProblem{"retry.backoff_coefficient", "must be at least 1"}
		}
		if r.MaximumAttempts < 0 {
			return fieldProblem{"retry.maximum_attempts", "must not be negative"}
		}
	}
	return fieldProblem{}
}

// over returns o with the options it does not set taken from inherited.
func (o StepOptions) over(inherited StepOptions) StepOptions {
	pick := func(own, def string) string {
		if own != "" {
			return own
		}
		return def
	}
	out := StepOptions{
		StartToCloseTimeout:    pick(o.StartToCloseTimeout, inherited.StartToCloseTimeout),
		ScheduleToStartTimeout: pick(o.ScheduleToStartTimeout, inherited.ScheduleToStartTimeout),
		HeartbeatTimeout:       pick(o.HeartbeatTimeout, inherited.HeartbeatTimeout),
		Retry:                  inherited.Retry,
	}
	if o.Retry != nil {
		out.Retry = o.Retry
	}
	return out
}

// activityOptions are the Temporal options of the step's calls. The spec must be valid.
func (n *node) activityOptions() workflow.ActivityOptions {
	opts := workflow.ActivityOptions{
		TaskQueue:              n.step.TaskQueue,
		StartToCloseTimeout:    DefaultStartToCloseTimeout,
		ScheduleToStartTimeout: mustDuration(n.opts.ScheduleToStartTimeout),
		HeartbeatTimeout:       mustDuration(n.opts.HeartbeatTimeout),
		ActivityID:             n.id(),
		Summary:                n.label(),
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = PoolTaskQueue(n.step.Pool)
	}
	if d := n.opts.StartToCloseTimeout; d != "" {
		opts.StartToCloseTimeout = mustDuration(d)
	}
	if retry := n.opts.Retry; retry != nil {
		opts.RetryPolicy = &temporal.RetryPolicy{
			InitialInterval:        mustDuration(retry.InitialInterval),
			BackoffCoefficient:     retry.BackoffCoefficient,
			MaximumInterval:        mustDuration(retry.MaximumInterval),
			MaximumAttempts:        retry.MaximumAttempts,
			NonRetryableErrorTypes: retry.NonRetryableErrorTypes,
		}
	}
	return opts
}

func parsePositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (use e.g. \"30s\", \"5m\"): %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive: %q", s)
	}
	return d, nil
}

// mustDuration parses a duration that Validate accepted; empty is zero.
func mustDuration(s string) time.Duration {
	if s == "" {
		return 0
	}
	d, _ := parsePositiveDuration(s)
	return d
}

// rawArgs is the activity input of a step without references: its args, or {} when it has none.
func rawArgs(args json.RawMessage) json.RawMessage {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}")
	}
	return args
}

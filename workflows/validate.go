package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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
	// deps are the indexes in the enclosing dag's children of the steps this one depends on.
	deps []int
	// when is the step's condition, nil when it has none.
	when *condition
	// onError is the step's Step.OnError, "fail" when unset.
	onError string
	// final is true for the steps of PipelineSpec.Finally (and the steps inside them).
	final bool
	// sleep and waitTimeout are a sleep step's duration and a wait step's timeout (0: none).
	sleep, waitTimeout time.Duration
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
	finals []*node // the finally steps
	nodes  []*node // document order: steps, then finally
	byName map[string]*node
	// output is the decoded output, nil when the spec has none.
	output any
	// signals are the names of the signals that wait steps wait for, sorted.
	signals []string
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
	top := func(field, problem string) error { return &SpecError{Field: field, Step: -1, Problem: problem} }
	if s.Version != 0 && s.Version != SpecVersion {
		return nil, top("version", fmt.Sprintf("unknown spec version %d (this worker knows version %d)", s.Version, SpecVersion))
	}
	if s.Name != "" && !namePattern.MatchString(s.Name) {
		return nil, top("name", "must match [A-Za-z0-9_.-]+")
	}
	if len(s.Steps) == 0 {
		return nil, top("steps", "at least one step is required")
	}
	if s.MaxHistoryEvents < 0 {
		return nil, top("max_history_events", fmt.Sprintf("must be at least 1, not %d", s.MaxHistoryEvents))
	}
	if p := s.Defaults.validate(); p.field != "" {
		return nil, top("defaults."+p.field, p.problem)
	}
	if c := s.Continued; c != nil && (c.Next < 1 || c.Next >= len(s.Steps)) {
		return nil, top("continued.next", fmt.Sprintf("must be the index of a top-level step after the first (1 to %d), not %d; continued is set by the workflow when it continues as new", len(s.Steps)-1, c.Next))
	}
	if len(s.Input) > 0 && !json.Valid(s.Input) {
		return nil, top("input", "not valid JSON")
	}
	c := &compiler{p: &plan{spec: s, byName: map[string]*node{}}}
	// Names first: references are parsed against all names, then checked for visibility.
	if err := c.collect(s.Steps, "steps", -1); err != nil {
		return nil, err
	}
	if err := c.collect(s.Finally, "finally", -1); err != nil {
		return nil, err
	}
	for _, list := range []struct {
		field string
		steps []Step
	}{{"steps", s.Steps}, {"finally", s.Finally}} {
		for i, st := range list.steps {
			if st.DependsOn != nil {
				key := fmt.Sprintf("%s[%d]", list.field, i)
				return nil, &SpecError{Field: key + ".depends_on", Step: i, StepPath: key, StepName: st.Name,
					Problem: fmt.Sprintf(`only steps of a "dag" have depends_on (this one is in %q)`, list.field)}
			}
		}
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
	afterSteps := visible
	// Finally steps may refer to any step: one that has not finished fails the reference at run
	// time (a condition can look at its status first).
	c.final = true
	for i := range s.Finally {
		n, err := c.build(&s.Finally[i], fmt.Sprintf("finally[%d]", i), i, s.Defaults, visible)
		if err != nil {
			return nil, err
		}
		c.p.finals = append(c.p.finals, n)
		visible = withNames(visible, n)
	}
	if len(bytes.TrimSpace(s.Output)) > 0 {
		out, err := decodeJSON(s.Output)
		if err != nil {
			return nil, top("output", "not valid JSON")
		}
		check := func(path, text string) error {
			ref, err := parseRef(text, c.p.byName)
			switch {
			case err != nil:
				return &refError{path: path, ref: text, problem: err.Error()}
			case ref.item:
				return &refError{path: path, ref: text, problem: "only a map step's args can refer to the item"}
			case ref.step != "" && !afterSteps[ref.step]:
				return &refError{path: path, ref: text, problem: fmt.Sprintf("step %s (%q) is a finally step: the output can refer to the steps only", c.p.byName[ref.step].key, ref.step)}
			}
			return nil
		}
		if err := walkRefs(out, "output", check); err != nil {
			var re *refError
			if errors.As(err, &re) {
				problem := re.problem
				if re.ref != "" {
					problem = fmt.Sprintf("reference %q: %s", re.ref, re.problem)
				}
				return nil, top(re.path, problem)
			}
			return nil, err
		}
		c.p.output = out
	}
	signals := map[string]bool{}
	for _, n := range c.p.nodes {
		if n.kind == kindWait {
			signals[n.step.Wait.Signal] = true
		}
	}
	c.p.signals = slices.Sorted(maps.Keys(signals))
	return c.p, nil
}

type compiler struct {
	p *plan
	// final is true while the finally steps are built.
	final bool
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
		if err := c.collect(step.Dag, key+".dag", t); err != nil {
			return err
		}
	}
	return nil
}

// stepNames returns the names of step and of every step inside it.
func stepNames(step *Step) []string {
	var names []string
	if step.Name != "" {
		names = append(names, step.Name)
	}
	for _, members := range [][]Step{step.Parallel, step.Steps, step.Dag} {
		for i := range members {
			names = append(names, stepNames(&members[i])...)
		}
	}
	return names
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
	n := &node{step: step, key: key, top: top, index: len(c.p.nodes), overLen: -1, final: c.final, onError: onErrorFail}
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
	if err := c.buildCommon(n, visible, bad); err != nil {
		return nil, err
	}

	kinds := stepKinds(step)
	switch {
	case step.Parallel != nil && step.Steps != nil:
		return nil, bad("steps", `a step has "parallel" or "steps", not both`)
	case (step.Parallel != nil || step.Steps != nil || step.Dag != nil) && slices.Contains(kinds, "tool"):
		group := kinds[0]
		for _, f := range []struct {
			name string
			set  bool
		}{{"pool", step.Pool != ""}, {"tool", step.Tool != ""}, {"args", len(step.Args) > 0}, {"task_queue", step.TaskQueue != ""}, {"map", step.Map != nil}} {
			if f.set {
				return nil, bad(f.name, fmt.Sprintf("not allowed in a group (a step with %q)", group))
			}
		}
	case len(kinds) > 1:
		return nil, bad(kinds[1], fmt.Sprintf("a step is of one kind: it cannot have both %q and %q", kinds[0], kinds[1]))
	}
	switch {
	case step.Parallel != nil || step.Steps != nil || step.Dag != nil:
		return c.buildGroup(n, visible, bad)
	case step.Sleep != "" || step.Wait != nil:
		return c.buildTimer(n, bad)
	}
	if n.onError == onErrorCollect && step.Map == nil {
		return nil, bad("on_error", `"collect" is for maps only (use "continue")`)
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
			if ref.input {
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
	case m.BatchSize < 0:
		return nil, bad("map.batch_size", fmt.Sprintf("must be at least 1, not %d", m.BatchSize))
	case m.ChunkSize < 0 || m.ChunkSize > MaxMapChunkSize:
		return nil, bad("map.chunk_size", fmt.Sprintf("must be from 1 to %d, not %d", MaxMapChunkSize, m.ChunkSize))
	case m.Offset < 0:
		return nil, bad("map.offset", fmt.Sprintf("must not be negative, not %d", m.Offset))
	}
	return n, nil
}

// stepKinds lists the kind fields a step sets, in a fixed order: "parallel", "steps", "dag",
// "sleep", "wait", then "tool" for any of pool, tool, args, task_queue and map.
func stepKinds(step *Step) []string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"parallel", step.Parallel != nil}, {"steps", step.Steps != nil}, {"dag", step.Dag != nil},
		{"sleep", step.Sleep != ""}, {"wait", step.Wait != nil},
		{"tool", step.Pool != "" || step.Tool != "" || len(step.Args) > 0 || step.TaskQueue != "" || step.Map != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
}

// buildCommon checks what every kind of step may have: on_error and when. A step's depends_on
// is checked by its dag.
func (c *compiler) buildCommon(n *node, visible map[string]bool, bad func(field, problem string) error) error {
	step := n.step
	switch step.OnError {
	case "":
	case onErrorFail, onErrorContinue, onErrorCollect:
		n.onError = step.OnError
	default:
		return bad("on_error", fmt.Sprintf(`must be "fail", "continue" or "collect" (maps only), not %q`, step.OnError))
	}
	if step.When == "" {
		return nil
	}
	cond, names, err := compileCondition(step.When, n.final)
	if err != nil {
		return bad("when", err.Error())
	}
	for _, name := range names {
		other, known := c.p.byName[name]
		switch {
		case !known:
			return bad("when", fmt.Sprintf("condition %q: there is no step named %q", step.When, name))
		case !visible[name]:
			return bad("when", fmt.Sprintf("condition %q: step %s (%q) has not finished when this step starts", step.When, other.key, name))
		}
	}
	n.when = cond
	return nil
}

// buildGroup builds a parallel group, a sequence or a dag, and the steps inside it.
func (c *compiler) buildGroup(n *node, visible map[string]bool, bad func(field, problem string) error) (*node, error) {
	step := n.step
	n.kind = kindSequence
	field, members := "steps", step.Steps
	switch {
	case step.Parallel != nil:
		n.kind, field, members = kindParallel, "parallel", step.Parallel
	case step.Dag != nil:
		n.kind, field, members = kindDAG, "dag", step.Dag
	}
	if n.onError == onErrorCollect {
		return nil, bad("on_error", `"collect" is for maps only (use "continue")`)
	}
	if len(members) == 0 {
		return nil, bad(field, "must hold at least one step")
	}
	var deps [][]int
	if n.kind == kindDAG {
		var err error
		if deps, err = dagDependencies(members, n.key+".dag", n.top); err != nil {
			return nil, err
		}
	}
	seen := visible
	for i := range members {
		memberKey := fmt.Sprintf("%s.%s[%d]", n.key, field, i)
		if n.kind != kindDAG && members[i].DependsOn != nil {
			return nil, &SpecError{Field: memberKey + ".depends_on", Step: n.top, StepPath: memberKey, StepName: members[i].Name,
				Problem: fmt.Sprintf(`only steps of a "dag" have depends_on (this one is in %q)`, field)}
		}
		memberVisible := seen
		if n.kind == kindDAG {
			// A dag step sees what the dag sees plus the steps it depends on, directly or not.
			memberVisible = maps.Clone(visible)
			for _, d := range transitive(deps, i) {
				for _, name := range stepNames(&members[d]) {
					memberVisible[name] = true
				}
			}
		}
		ch, err := c.build(&members[i], memberKey, n.top, n.opts, memberVisible)
		if err != nil {
			return nil, err
		}
		if n.kind == kindDAG {
			ch.deps = deps[i]
		}
		n.children = append(n.children, ch)
		if n.kind == kindSequence {
			seen = withNames(seen, ch)
		}
	}
	return n, nil
}

// dagDependencies resolves the depends_on of a dag's steps to indexes, and rejects unknown names,
// steps outside the dag, duplicates and cycles.
func dagDependencies(members []Step, prefix string, top int) ([][]int, error) {
	index := map[string]int{}
	for i, m := range members {
		if m.Name != "" {
			index[m.Name] = i
		}
	}
	deps := make([][]int, len(members))
	for i, m := range members {
		key := fmt.Sprintf("%s[%d]", prefix, i)
		bad := func(problem string) error {
			return &SpecError{Field: key + ".depends_on", Step: top, StepPath: key, StepName: m.Name, Problem: problem}
		}
		for _, name := range m.DependsOn {
			j, ok := index[name]
			switch {
			case !ok:
				return nil, bad(fmt.Sprintf("there is no step named %q in this dag", name))
			case j == i:
				return nil, bad("a step cannot depend on itself")
			case slices.Contains(deps[i], j):
				return nil, bad(fmt.Sprintf("%q is listed twice", name))
			}
			deps[i] = append(deps[i], j)
		}
	}
	// A cycle: depth-first search, states 0 (new), 1 (on the path), 2 (done).
	state := make([]int, len(members))
	var path []int
	var visit func(i int) []int
	visit = func(i int) []int {
		state[i] = 1
		path = append(path, i)
		for _, j := range deps[i] {
			if state[j] == 1 {
				return append(slices.Clone(path[slices.Index(path, j):]), j)
			}
			if state[j] == 0 {
				if cycle := visit(j); cycle != nil {
					return cycle
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = 2
		return nil
	}
	for i := range members {
		if state[i] != 0 {
			continue
		}
		if cycle := visit(i); cycle != nil {
			names := make([]string, len(cycle))
			for k, j := range cycle {
				names[k] = members[j].Name
			}
			first := cycle[0]
			key := fmt.Sprintf("%s[%d]", prefix, first)
			return nil, &SpecError{Field: key + ".depends_on", Step: top, StepPath: key, StepName: members[first].Name,
				Problem: "dependency cycle: " + strings.Join(names, " -> ")}
		}
	}
	return deps, nil
}

// transitive returns the steps that step i of a dag depends on, directly or not.
func transitive(deps [][]int, i int) []int {
	seen := map[int]bool{}
	var out []int
	var walk func(int)
	walk = func(j int) {
		for _, d := range deps[j] {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				walk(d)
			}
		}
	}
	walk(i)
	return out
}

// buildTimer builds a sleep or a wait step.
func (c *compiler) buildTimer(n *node, bad func(field, problem string) error) (*node, error) {
	step := n.step
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"start_to_close_timeout", step.StartToCloseTimeout != ""}, {"schedule_to_start_timeout", step.ScheduleToStartTimeout != ""},
		{"heartbeat_timeout", step.HeartbeatTimeout != ""}, {"retry", step.Retry != nil}, {"require_worker", step.RequireWorker != nil},
	} {
		if f.set {
			return nil, bad(f.name, "not allowed in a sleep or wait step (it calls no tool)")
		}
	}
	if n.onError == onErrorCollect {
		return nil, bad("on_error", `"collect" is for maps only (use "continue")`)
	}
	if step.Sleep != "" {
		n.kind = kindSleep
		d, err := parsePositiveDuration(step.Sleep)
		if err != nil {
			return nil, bad("sleep", err.Error())
		}
		n.sleep = d
		return n, nil
	}
	n.kind = kindWait
	if !namePattern.MatchString(step.Wait.Signal) {
		return nil, bad("wait.signal", "required: a signal name, [A-Za-z0-9_.-]+")
	}
	if step.Wait.Timeout != "" {
		d, err := parsePositiveDuration(step.Wait.Timeout)
		if err != nil {
			return nil, bad("wait.timeout", err.Error())
		}
		n.waitTimeout = d
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

// chunkSize counts calls: items, or batches.
func (n *node) chunkSize() int {
	if c := n.step.Map.ChunkSize; c > 0 {
		return c
	}
	return DefaultMapChunkSize
}

// batchSize is the map's batch size; 0: not batched.
func (n *node) batchSize() int { return n.step.Map.BatchSize }

// calls is the number of calls of a map of items: one per item, or per batch.
func (n *node) calls(items int) int {
	if bs := n.batchSize(); bs > 0 {
		return items/bs + min(1, items%bs) // not (items+bs-1)/bs, which overflows for a huge bs
	}
	return items
}

type fieldProblem struct{ field, problem string }

func (o StepOptions) validate() fieldProblem {
	durations := []struct {
		field, value string
	}{
		{"start_to_close_timeout", o.StartToCloseTimeout},
		{"schedule_to_start_timeout", o.ScheduleToStartTimeout},
	}
	if o.HeartbeatTimeout != "" && !isZeroDuration(o.HeartbeatTimeout) {
		durations = append(durations, struct{ field, value string }{"heartbeat_timeout", o.HeartbeatTimeout})
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
		if r.MaximumInterval != "" {
			initial, source := time.Second, "the default"
			if r.InitialInterval != "" {
				initial, source = mustDuration(r.InitialInterval), "initial_interval"
			}
			if maximum := mustDuration(r.MaximumInterval); maximum < initial {
				return fieldProblem{"retry.maximum_interval", fmt.Sprintf("%s is below the initial interval (%s, %s): the wait between attempts can only grow", maximum, initial, source)}
			}
		}
		for i, t := range r.NonRetryableErrorTypes {
			if strings.TrimSpace(t) == "" {
				return fieldProblem{fmt.Sprintf("retry.non_retryable_error_types[%d]", i), "must be an error type name, not empty"}
			}
		}
	}
	return fieldProblem{}
}

// isZeroDuration reports whether s is a zero duration such as "0s" or "0", which turns a
// heartbeat timeout off.
func isZeroDuration(s string) bool {
	if s == "0" {
		return true
	}
	d, err := time.ParseDuration(s)
	return err == nil && d == 0
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
		RequireWorker:          inherited.RequireWorker,
	}
	if o.Retry != nil {
		out.Retry = o.Retry
	}
	if o.RequireWorker != nil {
		out.RequireWorker = o.RequireWorker
	}
	return out
}

// requireWorker is the step's RequireWorker, default applied.
func (n *node) requireWorker() bool { return n.opts.RequireWorker == nil || *n.opts.RequireWorker }

// activityOptions are the Temporal options of the step's calls on taskQueue; version is the
// run's Pipeline version. The spec must be valid.
func (n *node) activityOptions(version workflow.Version, taskQueue string) workflow.ActivityOptions {
	opts := workflow.ActivityOptions{
		TaskQueue:              taskQueue,
		StartToCloseTimeout:    DefaultStartToCloseTimeout,
		ScheduleToStartTimeout: mustDuration(n.opts.ScheduleToStartTimeout),
		HeartbeatTimeout:       mustDuration(n.opts.HeartbeatTimeout),
		ActivityID:             n.id(),
		Summary:                n.label(),
	}
	if version >= versionWorkerChecks && n.opts.HeartbeatTimeout == "" {
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
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
	if s == "" || isZeroDuration(s) {
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

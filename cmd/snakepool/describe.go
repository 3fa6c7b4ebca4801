package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// describedPool is one entry of `describe --json`.
type describedPool struct {
	Pool      string      `json:"pool"`
	Adapter   string      `json:"adapter"`
	Python    string      `json:"python"`
	Dir       string      `json:"dir"`
	TaskQueue string      `json:"task_queue,omitempty"`
	Tools     []probeTool `json:"tools"`
}

func runDescribe(ctx context.Context, e *env, args []string) int {
	var t targetFlags
	var asJSON bool
	c := newCommand("describe", "snakepool describe ADAPTER [flags]\n       snakepool describe [--config FILE] [--pool NAME] [flags]",
		`Lists the tools of an adapter, or of every pool of a config, with their arguments: a table, or
with --json their full JSON schemas (the schemas the worker's Describe reports). It imports the
adapter's module in the pool's interpreter and directory but does not run setup(), so it is quick
even for adapters that load big models.

Exit codes: 0 described, 2 bad usage, 3 an adapter could not be imported (its traceback on stderr).`, e.stderr,
		`snakepool describe snakepool.examples.showcase:ShowcaseAdapter`,
		`snakepool describe --config examples/ml.yaml --json`,
		`snakepool describe   # in a directory with a snakepool.yaml`)
	t.register(c.flags)
	c.flags.BoolVar(&asJSON, "json", false, "print JSON: the pools with their tools' full argument schemas")
	adapter, code := c.parseOptionalArg(args)
	if code >= 0 {
		return code
	}
	sel, err := t.resolve(c.flags, adapter, false, e.getenv)
	if err != nil {
		return e.usageError("describe", err)
	}
	out := &console{w: e.stderr}
	var described []describedPool
	code = exitOK
	for _, target := range sel.Targets {
		report, err := runProbe(ctx, target.Options, target.Options.Adapter)
		if err != nil {
			out.printf("snakepool describe: %s: %v\n", describeTarget(target), err)
			code = exitStart
			continue
		}
		if !report.Snakepool.Installed {
			out.printf("snakepool describe: %s: snakepool is not importable: %s\nfix: %s\n", describeTarget(target),
				report.Snakepool.Error, installFix(report.Python.Executable))
			code = exitStart
			continue
		}
		a := report.Adapters[0]
		if !a.OK {
			out.printf("snakepool describe: %s cannot be imported: %s\n%s\nfix: %s\n", target.Options.Adapter, a.Error,
				strings.TrimRight(a.Error.Traceback, "\n"), adapterFix(target.Options, a.Error.Type, a.Error.Message))
			code = exitStart
			continue
		}
		described = append(described, describedPool{
			Pool: target.Pool, Adapter: target.Options.Adapter, Python: report.Python.Executable,
			Dir: report.Cwd, TaskQueue: target.TaskQueue, Tools: a.Tools,
		})
	}
	if asJSON {
		data, _ := json.MarshalIndent(described, "", "  ")
		fmt.Fprintln(e.stdout, string(data))
		return code
	}
	for i, d := range described {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printTools(e.stdout, d)
	}
	return code
}

// printTools prints one pool's tools as a table.
func printTools(w io.Writer, d describedPool) {
	header := d.Adapter
	if d.Pool != cliPool {
		header = fmt.Sprintf("pool %s: %s, task queue %s", d.Pool, d.Adapter, d.TaskQueue)
	}
	fmt.Fprintf(w, "%s (python %s)\n", header, d.Python)
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tARGUMENTS\tDESCRIPTION")
	for _, tool := range d.Tools {
		args := wrap(strings.Split(argumentsText(tool.InputSchema), ", "), ", ", columnWidth)
		desc := wrap(strings.Fields(tool.Description), " ", columnWidth)
		for i := 0; i < len(args) || i < len(desc); i++ {
			name := ""
			if i == 0 {
				name = tool.Name
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", name, at(args, i), at(desc, i))
		}
	}
	_ = tw.Flush()
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		fmt.Fprint(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
	}
}

// columnWidth is where the table's arguments and descriptions wrap.
const columnWidth = 56

// wrap joins words with sep into lines of at most width characters (a longer word gets a line of
// its own); every line but the last ends with sep's non-space part (the argument list's comma).
func wrap(words []string, sep string, width int) []string {
	var lines []string
	line := ""
	for _, w := range words {
		switch {
		case line == "":
			line = w
		case len(line)+len(sep)+len(w) <= width:
			line += sep + w
		default:
			lines = append(lines, line+strings.TrimRight(sep, " "))
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// argumentsText renders an object schema's properties: "x: number, epochs: integer = 10".
func argumentsText(schema json.RawMessage) string {
	var s struct {
		Properties           json.RawMessage `json:"properties"`
		Required             []string        `json:"required"`
		AdditionalProperties bool            `json:"additionalProperties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return "?"
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	var props map[string]json.RawMessage
	_ = json.Unmarshal(s.Properties, &props)
	var parts []string
	for _, name := range orderedKeys(s.Properties) {
		var p map[string]any
		_ = json.Unmarshal(props[name], &p)
		text := name + ": " + typeText(p)
		if def, ok := p["default"]; ok {
			d, _ := json.Marshal(def)
			text += " = " + string(d)
		} else if !required[name] {
			text += " (optional)"
		}
		parts = append(parts, text)
	}
	if s.AdditionalProperties {
		parts = append(parts, "**kwargs")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// typeText renders a JSON schema as a short type: "integer", "array of string", "string | null".
func typeText(schema map[string]any) string {
	if t, ok := schema["type"].(string); ok {
		switch t {
		case "array":
			if items, ok := schema["items"].(map[string]any); ok {
				return "array of " + typeText(items)
			}
		case "object":
			if values, ok := schema["additionalProperties"].(map[string]any); ok {
				return "object of " + typeText(values)
			}
		}
		return t
	}
	if values, ok := schema["enum"].([]any); ok {
		data, _ := json.Marshal(values)
		return "one of " + string(data)
	}
	if options, ok := schema["anyOf"].([]any); ok {
		texts := make([]string, 0, len(options))
		for _, o := range options {
			if m, ok := o.(map[string]any); ok {
				texts = append(texts, typeText(m))
			}
		}
		return strings.Join(texts, " | ")
	}
	return "any"
}

// orderedKeys returns the keys of a JSON object in the order they appear (Python's schema lists
// the parameters in signature order; a Go map would lose it).
func orderedKeys(object json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(object))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		key, _ := tok.(string)
		keys = append(keys, key)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

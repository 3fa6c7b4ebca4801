package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// errHelp is returned by parse after printing a verb's usage for -h or --help.
var errHelp = errors.New("help requested")

// command is a verb's flag set and usage text.
type command struct {
	flags *flag.FlagSet
	// usage is the synopsis line(s), e.g. "snakepool call ADAPTER TOOL [flags]".
	usage string
	// about says what the verb does, in a few lines.
	about string
	// examples are printed after the flags.
	examples []string
}

func newCommand(name, usage, about string, stderr io.Writer, examples ...string) *command {
	c := &command{flags: flag.NewFlagSet("snakepool "+name, flag.ContinueOnError), usage: usage, about: about, examples: examples}
	c.flags.SetOutput(stderr)
	c.flags.Usage = func() { c.printUsage(stderr) }
	return c
}

func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usage, strings.TrimSpace(c.about))
	hasFlags := false
	c.flags.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nflags:")
		c.flags.SetOutput(w)
		c.flags.PrintDefaults()
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.examples {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

// parse parses args, flags and positional arguments in any order (`call ADAPTER TOOL --args
// '{}'` and `call --args '{}' ADAPTER TOOL` are the same); after "--" everything is positional.
// It returns the positional arguments, errHelp after printing the usage for -h/--help, or the
// flag error (already printed with the usage).
func (c *command) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, err
		}
		rest := c.flags.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// flag.Parse stops at the first non-flag, or after "--" (which it consumes).
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// keyValues is a repeatable KEY=VALUE flag.
type keyValues map[string]string

func (kv keyValues) String() string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + kv[k]
	}
	return strings.Join(parts, ",")
}

func (kv keyValues) Set(s string) error {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	kv[key] = value
	return nil
}

// parseOptionalArg parses args for a verb that takes at most one positional argument (an
// adapter) and returns it, or "" when none is given. code is -1 when the verb should go on, or
// its exit code (--help, a bad flag, too many arguments).
func (c *command) parseOptionalArg(args []string) (arg string, code int) {
	positional, err := c.parse(args)
	switch {
	case err != nil:
		return "", usageExit(err)
	case len(positional) > 1:
		c.flags.Usage()
		return "", exitUsage
	case len(positional) == 1:
		return positional[0], -1
	default:
		return "", -1
	}
}

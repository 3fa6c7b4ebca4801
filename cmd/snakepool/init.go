package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// templates are the files of a new project.
//
//go:embed all:template
var templates embed.FS

// defaultRequirement is the snakepool line of a new project's requirements.txt (docs/install.md).
const defaultRequirement = "snakepool @ git+https://github.com/snakepool/snakepool@main#subdirectory=python"

// projectFiles maps each template to the path it is written to ({{.Package}} is the package).
var projectFiles = []struct{ template, path string }{
	{"README.md.tmpl", "README.md"},
	{"snakepool.yaml.tmpl", "snakepool.yaml"},
	{"pipeline.json.tmpl", "pipeline.json"},
	{"requirements.txt.tmpl", "requirements.txt"},
	{"pyproject.toml.tmpl", "pyproject.toml"},
	{"gitignore.tmpl", ".gitignore"},
	{"package/__init__.py.tmpl", "{{.Package}}/__init__.py"},
	{"package/adapter.py.tmpl", "{{.Package}}/adapter.py"},
	{"tests/test_adapter.py.tmpl", "tests/test_adapter.py"},
}

// project is what the templates are filled with.
type project struct {
	// Name is the project's name (the directory's), Package its Python package, Class the adapter
	// class, Pool the pool's name, TaskQueue the pool's task queue.
	Name, Package, Class, Pool, TaskQueue string
	// Python is the config's interpreter, Requirement the snakepool line of requirements.txt.
	Python, Requirement string
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reservedPackages are names a project's package must not take: they would shadow what the
// project imports (snakepool itself, pytest's tests directory) or are Python keywords.
var reservedPackages = map[string]bool{
	"snakepool": true, "tests": true, "test": true, "pytest": true,
	"and": true, "as": true, "assert": true, "async": true, "await": true, "break": true, "class": true,
	"continue": true, "def": true, "del": true, "elif": true, "else": true, "except": true, "false": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true, "import": true, "in": true,
	"is": true, "lambda": true, "none": true, "nonlocal": true, "not": true, "or": true, "pass": true,
	"raise": true, "return": true, "true": true, "try": true, "while": true, "with": true, "yield": true,
}

func runInit(_ context.Context, e *env, args []string) int {
	var name, python, requirement string
	var force bool
	c := newCommand("init", "snakepool init DIR [flags]",
		`Creates a new project in DIR (which must not exist, or be empty) that runs as generated:
  PACKAGE/adapter.py      an adapter whose train tool heartbeats a checkpoint per epoch and resumes
                          from ctx.resume after a retry, and an evaluate tool
  tests/test_adapter.py   pytest tests with snakepool.testing (heartbeats, cancel, resume; in
                          process and in a real worker process)
  snakepool.yaml          the worker's config: one pool on the project's virtualenv (.venv)
  pipeline.json           a Pipeline: train, then evaluate
  requirements.txt, pyproject.toml, .gitignore, README.md (the next steps)
PACKAGE is DIR's name made a Python identifier (my-project: my_project), or --name.`, e.stderr,
		`snakepool init my-project`,
		`snakepool init models --name churn --python /opt/venvs/ml/bin/python`)
	c.flags.StringVar(&name, "name", "", "the Python `package` and pool name (default: DIR's name, as an identifier)")
	c.flags.StringVar(&python, "python", ".venv/bin/python", "the `interpreter` the config names (relative: to the project's directory)")
	c.flags.StringVar(&requirement, "snakepool", defaultRequirement, "the snakepool `requirement` line of requirements.txt (a path, a wheel, a git URL)")
	c.flags.BoolVar(&force, "force", false, "write into DIR even if it is not empty (existing files of the same names are replaced)")
	positional, err := c.parse(args)
	if err != nil {
		return usageExit(err)
	}
	if len(positional) != 1 {
		c.flags.Usage()
		return exitUsage
	}
	dir := positional[0]
	p, err := newProject(dir, name, python, requirement)
	if err != nil {
		return e.usageError("init", err)
	}
	if !force {
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return e.usageError("init", fmt.Errorf("%s is not empty (--force writes into it)", dir))
		}
	}
	written, err := writeProject(dir, p)
	if err != nil {
		fmt.Fprintf(e.stderr, "snakepool init: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(e.stdout, "created %s: adapter %s.adapter:%s, pool %s\n", dir, p.Package, p.Class, p.Pool)
	for _, f := range written {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	fmt.Fprintf(e.stdout, `
next:
  cd %s
  python3 -m venv .venv && .venv/bin/pip install -r requirements.txt   # snakepool: see requirements.txt
  snakepool call train --args '{"epochs": 5}'
  .venv/bin/python -m pytest
  snakepool-worker --config snakepool.yaml                             # with a Temporal server running
`, dir)
	return exitOK
}

// newProject derives the template values for a project in dir.
func newProject(dir, name, python, requirement string) (project, error) {
	base := filepath.Base(filepath.Clean(dir))
	pkg := name
	if pkg == "" {
		pkg = strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(base), "_"), "_")
		if pkg != "" && pkg[0] >= '0' && pkg[0] <= '9' {
			pkg = "project_" + pkg
		}
	}
	switch {
	case !identifier.MatchString(pkg):
		return project{}, fmt.Errorf("%q is not a Python package name (lowercase letters, digits, _): give one with --name", pkg)
	case reservedPackages[pkg]:
		return project{}, fmt.Errorf("the package name %q would shadow a module the project imports, or is a keyword: give another with --name", pkg)
	case strings.ContainsAny(python, " \t\n#'\""):
		return project{}, fmt.Errorf("--python %q: a path without spaces, quotes or #", python)
	case strings.ContainsAny(requirement, "\n"):
		return project{}, errors.New("--snakepool: one line")
	}
	class := ""
	for _, part := range strings.Split(pkg, "_") {
		if part != "" {
			class += strings.ToUpper(part[:1]) + part[1:]
		}
	}
	return project{
		Name: base, Package: pkg, Class: class + "Adapter", Pool: pkg, TaskQueue: "snakepool." + pkg,
		Python: python, Requirement: requirement,
	}, nil
}

// writeProject writes the project's files into dir and returns their paths, relative to dir.
func writeProject(dir string, p project) ([]string, error) {
	var written []string
	for _, f := range projectFiles {
		path, err := render(f.path, p)
		if err != nil {
			return nil, err
		}
		raw, err := templates.ReadFile("template/" + f.template)
		if err != nil {
			return nil, err
		}
		content, err := render(string(raw), p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", f.template, err)
		}
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

func render(text string, p project) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", err
	}
	return b.String(), nil
}

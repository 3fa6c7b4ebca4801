package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/snakepool/snakepool/pools"
)

// The fixes the verbs print with a problem: what to do, as a command where there is one.

// installSources are the ways to install the snakepool package (docs/install.md).
const installSources = "/path/to/snakepool/python, a wheel, or 'snakepool @ git+https://github.com/snakepool/snakepool@main#subdirectory=python'"

func installFix(python string) string {
	return fmt.Sprintf("install the snakepool package into this interpreter: %s -m pip install %s (docs/install.md)", python, installSources)
}

func requirementFix(python, requirement string) string {
	return fmt.Sprintf("%s -m pip install '%s'", python, requirement)
}

var noModuleNamed = regexp.MustCompile(`No module named '([^']+)'`)

// adapterFix says how to fix an adapter that does not import or set up, from the Python error.
func adapterFix(opts pools.Options, errType, message string) string {
	python := opts.Python
	if python == "" {
		python = pools.DefaultPython
	}
	module, _, _ := strings.Cut(opts.Adapter, ":")
	switch errType {
	case "ModuleNotFoundError":
		missing := ""
		if m := noModuleNamed.FindStringSubmatch(message); m != nil {
			missing = m[1]
		}
		if missing != "" && (missing == module || strings.HasPrefix(module, missing+".")) {
			return fmt.Sprintf("the adapter's module %s is not importable by %s from %s: check `adapter` (module:Class) and `dir` "+
				"(or --dir), or install your package into that interpreter (%s -m pip install -e /path/to/your/project)",
				module, python, dirText(opts.Dir), python)
		}
		if missing != "" {
			return fmt.Sprintf("install what provides the module %q into the pool's interpreter: %s -m pip install PACKAGE "+
				"(the package name may differ from the module's, e.g. sklearn is scikit-learn)", missing, python)
		}
	case "ThreadSafetyError":
		return "the thread profile runs several calls at once in one process: derive the adapter from snakepool.ThreadSafeAdapter, " +
			"make its tools safe and set __thread_safe__ = True on the class, or use profile: process"
	case "AttributeError":
		if strings.Contains(message, "has no attribute") {
			return "check the class name in `adapter` (module:Class); the message lists the adapter classes of the module"
		}
	case "TypeError":
		if strings.Contains(message, "not a subclass of snakepool.Adapter") {
			return "derive the class from snakepool.Adapter (or snakepool.ThreadSafeAdapter)"
		}
	}
	return fmt.Sprintf("fix the error of the traceback above: it is raised while importing %s or in its setup()", module)
}

func dirText(dir string) string {
	if dir == "" {
		return "the current directory"
	}
	return dir
}

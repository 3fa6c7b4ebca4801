package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The range checks of `doctor` read the requirements the installed snakepool declares (its
// Requires-Dist, from python/pyproject.toml) and compare the installed versions with them. They
// need a small part of PEP 440: release numbers, pre-releases, and the comparison operators.

// pepVersion is a PEP 440 version reduced to what a range check needs.
type pepVersion struct {
	release []int
	// pre is true for pre-releases and development releases (1.0a1, 1.0rc2, 1.0.dev3), which
	// sort before their release.
	pre bool
}

var versionPattern = regexp.MustCompile(`^v?(\d+(?:\.\d+)*)((?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview|dev)[-_.]?\d*)*)((?:[-_.]?(?:post|rev|r)[-_.]?\d*|-\d+)?)(?:\+[a-z0-9.]+)?$`)

func parseVersion(s string) (pepVersion, error) {
	m := versionPattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return pepVersion{}, fmt.Errorf("%q is not a version", s)
	}
	var v pepVersion
	for _, part := range strings.Split(m[1], ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return pepVersion{}, fmt.Errorf("%q is not a version", s)
		}
		v.release = append(v.release, n)
	}
	v.pre = m[2] != ""
	return v, nil
}

// compareReleases compares release numbers, padding the shorter with zeros.
func compareReleases(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// compareVersions orders versions; a pre-release sorts before its release.
func compareVersions(a, b pepVersion) int {
	if c := compareReleases(a.release, b.release); c != 0 {
		return c
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre:
		return -1
	default:
		return 1
	}
}

// satisfies reports whether version meets every clause of spec, e.g. ">=1.85.1,<2".
func satisfies(version, spec string) (bool, error) {
	v, err := parseVersion(version)
	if err != nil {
		return false, err
	}
	spec = strings.Trim(strings.TrimSpace(spec), "()")
	if spec == "" {
		return true, nil
	}
	for _, clause := range strings.Split(spec, ",") {
		ok, err := satisfiesClause(v, strings.TrimSpace(clause))
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func satisfiesClause(v pepVersion, clause string) (bool, error) {
	var op string
	for _, candidate := range []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(clause, candidate) {
			op = candidate
			break
		}
	}
	if op == "" {
		return false, fmt.Errorf("%q has no comparison operator", clause)
	}
	operand := strings.TrimSpace(clause[len(op):])
	if op == "==" || op == "!=" {
		if prefix, ok := strings.CutSuffix(operand, ".*"); ok {
			p, err := parseVersion(prefix)
			if err != nil {
				return false, err
			}
			match := len(v.release) >= len(p.release) && compareReleases(v.release[:len(p.release)], p.release) == 0
			return match == (op == "=="), nil
		}
	}
	w, err := parseVersion(operand)
	if err != nil {
		return false, err
	}
	c := compareVersions(v, w)
	switch op {
	case "==", "===":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<=":
		return c <= 0, nil
	case ">=":
		return c >= 0, nil
	case ">":
		return c > 0, nil
	case "<":
		// "<2" excludes the pre-releases of 2 too (PEP 440).
		return c < 0 && !(v.pre && !w.pre && compareReleases(v.release, w.release) == 0), nil
	default: // "~=X.Y" is ">=X.Y, ==X.*"
		if len(w.release) < 2 {
			return false, fmt.Errorf("%q: ~= needs at least two release numbers", clause)
		}
		prefix := w.release[:len(w.release)-1]
		return c >= 0 && len(v.release) >= len(prefix) && compareReleases(v.release[:len(prefix)], prefix) == 0, nil
	}
}

var requirementName = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$`)

// splitRequirement splits a requirement ("grpcio>=1.85.1,<2", "grpcio (>=1.85.1,<2)",
// "pkg[extra]>=1; python_version>'3'") into its name and its version specifier.
func splitRequirement(req string) (name, spec string) {
	req, _, _ = strings.Cut(req, ";")
	m := requirementName.FindStringSubmatch(req)
	if m == nil {
		return strings.TrimSpace(req), ""
	}
	return m[1], strings.Trim(strings.TrimSpace(m[2]), "()")
}

// displaySpec writes a specifier lower bounds first (">=1.85.1,<2"), whatever order the package
// metadata lists its clauses in.
func displaySpec(spec string) string {
	clauses := strings.Split(strings.ReplaceAll(spec, " ", ""), ",")
	sort.SliceStable(clauses, func(i, j int) bool {
		return strings.HasPrefix(clauses[i], ">") && !strings.HasPrefix(clauses[j], ">")
	})
	return strings.Join(clauses, ",")
}

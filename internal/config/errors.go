package config

import (
	"cmp"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/internal/problem"
)

// Problem is one thing wrong with a configuration: its key's dotted path
// (e.g. one.tenant, ownership[1].owner; empty for the file as a whole) and
// what is wrong. Every section's validation returns the same type, with
// paths relative to the section.
type Problem = problem.Problem

// Error lists every problem of a configuration. Its message has one line
// per problem, "config: FILE: path: message", so that each line stands on
// its own in a log or a terminal.
type Error struct {
	// File is the configuration file ("" when unknown).
	File string
	// Problems are sorted by path, then message.
	Problems []Problem
}

// Error implements error.
func (e *Error) Error() string {
	prefix := "config: "
	if e.File != "" {
		prefix += e.File + ": "
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = prefix + p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns one *problem.Problem per problem.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i := range e.Problems {
		out[i] = &e.Problems[i]
	}
	return out
}

// sortProblems orders problems by path (list indexes numerically), then
// message, and drops duplicates.
func sortProblems(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := comparePaths(a.Path, b.Path); c != 0 {
			return c
		}
		return cmp.Compare(a.Message, b.Message)
	})
	return slices.Compact(ps)
}

// comparePaths compares dotted paths segment by segment, list indexes as numbers.
func comparePaths(a, b string) int {
	as, bs := splitPath(a), splitPath(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, y := as[i], bs[i]
		if x.name != y.name {
			return cmp.Compare(x.name, y.name)
		}
		if x.index != y.index {
			return cmp.Compare(x.index, y.index)
		}
	}
	return cmp.Compare(len(as), len(bs))
}

type segment struct {
	name  string
	index int // -1 without an index
}

func splitPath(p string) []segment {
	var out []segment
	for s := range strings.SplitSeq(p, ".") {
		seg := segment{name: s, index: -1}
		if i := strings.IndexByte(s, '['); i >= 0 && strings.HasSuffix(s, "]") {
			n := 0
			ok := true
			for _, c := range s[i+1 : len(s)-1] {
				if c < '0' || c > '9' {
					ok = false
					break
				}
				n = n*10 + int(c-'0')
			}
			if ok {
				seg = segment{name: s[:i], index: n}
			}
		}
		out = append(out, seg)
	}
	return out
}

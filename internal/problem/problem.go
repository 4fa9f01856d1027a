// Package problem is the typed configuration problem every section's
// validation returns: a key path and a message. The connector's own
// configuration, the ERP adapters' and the field rules report problems
// with paths relative to their section; the configuration file places
// them under the section's key (Under), so no message is ever parsed back
// into a path.
package problem

import (
	"errors"
	"fmt"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key's dotted path relative to the section validated
	// (e.g. one.tenant, rules[3], flags[0].column); empty for a problem
	// with the section as a whole.
	Path string
	// Message says what is wrong; it never holds a secret.
	Message string
}

// New returns a problem at path as an error.
func New(path, format string, args ...any) error {
	return &Problem{Path: path, Message: fmt.Sprintf(format, args...)}
}

// String renders "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error implements error.
func (p *Problem) Error() string { return p.String() }

// List returns the problems an error carries (a *Problem, or any tree of
// joined and wrapped errors holding them), in order. An error in the tree
// that is not a problem becomes one without a path, so nothing is lost.
func List(err error) []Problem {
	if err == nil {
		return nil
	}
	switch u := err.(type) {
	case *Problem:
		return []Problem{*u}
	case interface{ Unwrap() []error }:
		var out []Problem
		for _, e := range u.Unwrap() {
			out = append(out, List(e)...)
		}
		return out
	case interface{ Unwrap() error }:
		// A wrapper around problems ("sqlerp: %w") adds nothing to their
		// paths; a wrapper around a plain error keeps its whole message.
		var p *Problem
		if inner := u.Unwrap(); errors.As(inner, &p) {
			return List(inner)
		}
	}
	return []Problem{{Message: err.Error()}}
}

// Under returns err's problems with prefix put before each path.
func Under(prefix string, err error) []Problem {
	ps := List(err)
	for i := range ps {
		ps[i].Path = Join(prefix, ps[i].Path)
	}
	return ps
}

// Join joins a section's key and a path inside it: Join("erp.sql",
// "rules[3]") is "erp.sql.rules[3]"; an empty side leaves the other.
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}

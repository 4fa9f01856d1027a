package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// An expression rule computes its field from the row's columns with
// github.com/expr-lang/expr instead of reading one column: each identifier
// of the expression is an ERP column, holding the column's value as a
// string. The expression must give a string; it can use expr's operators
// and builtins only (no functions of the program, no other data). It is
// compiled once, by CompileRules.
//
// A computed field is one-way: Values (the write of a platform change back
// to the ERP) cannot reverse it and leaves its source columns untouched.

// compileExpr compiles src and returns the program and the columns it
// reads, in order of first use.
func compileExpr(src string) (*vm.Program, []string, error) {
	// The first pass finds the identifiers: the columns.
	p, err := expr.Compile(src, expr.Env(map[string]any{}), expr.AllowUndefinedVariables())
	if err != nil {
		return nil, nil, errors.New(firstLine(err))
	}
	cols := exprColumns(p.Node())
	if len(cols) == 0 {
		return nil, nil, errors.New("reads no column (a constant belongs in default)")
	}
	// The second compiles it against the columns as strings, so that the
	// types are checked: the expression must give a string.
	env := make(map[string]any, len(cols))
	for _, c := range cols {
		env[c] = ""
	}
	p, err = expr.Compile(src, expr.Env(env), expr.AsKind(reflect.String))
	if err != nil {
		return nil, nil, errors.New(firstLine(err))
	}
	return p, cols, nil
}

// firstLine is an expr error without the source excerpt it appends.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// columnVisitor collects the identifiers of an expression that name data
// (not the functions called, nor the names its let declarations bind).
type columnVisitor struct {
	idents []string
	skip   map[string]bool
}

func (v *columnVisitor) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		if !slices.Contains(v.idents, n.Value) {
			v.idents = append(v.idents, n.Value)
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			v.skip[id.Value] = true
		}
	case *ast.VariableDeclaratorNode:
		v.skip[n.Name] = true
	}
}

// exprColumns returns the columns the expression tree reads.
func exprColumns(root ast.Node) []string {
	v := &columnVisitor{skip: map[string]bool{}}
	ast.Walk(&root, v)
	var out []string
	for _, id := range v.idents {
		if !v.skip[id] {
			out = append(out, id)
		}
	}
	return out
}

// eval runs the rule's expression over the row.
func (cr *compiledRule) eval(values []string) (string, error) {
	env := make(map[string]any, len(cr.srcCols))
	for j, i := range cr.srcCols {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		env[cr.srcNames[j]] = v
	}
	out, err := expr.Run(cr.program, env)
	if err != nil {
		return "", fmt.Errorf("expression %q: %s", cr.Expr, firstLine(err))
	}
	switch s := out.(type) {
	case string:
		return s, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("expression %q gave %T, not a string", cr.Expr, out)
}

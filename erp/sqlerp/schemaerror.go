package sqlerp

import "strings"

// SchemaError lists what the configuration names that the database does
// not have (a table, a column) or has with a type the adapter cannot use,
// each problem on its own ("key_column: column \"k\" not found in t").
type SchemaError struct {
	// Problems are the mismatches, in configuration order.
	Problems []string
}

// Error lists every problem on one line.
func (e *SchemaError) Error() string {
	return "the database does not match the configuration: " + strings.Join(e.Problems, "; ")
}

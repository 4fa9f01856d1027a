package sqlerp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect holds the few things that differ between SQL databases. One SQL
// code path serves every dialect.
type Dialect struct {
	// Name is the dialect's name ("sqlite", "postgres").
	Name string
	// Driver is the database/sql driver name.
	Driver string
	// Placeholder returns the n-th (1-based) bind parameter.
	Placeholder func(n int) string
	// True is the literal a true boolean flag compares equal to.
	True string
	// TimestampType is the column type of timestamps in the demo schema.
	TimestampType string
	// NumericType is the column type of decimal numbers in the demo schema.
	NumericType string
	// FloatType is the column type of floating-point numbers in the demo schema.
	FloatType string
}

// SQLite is the dialect of modernc.org/sqlite (driver "sqlite"), the embedded default.
func SQLite() Dialect {
	return Dialect{Name: "sqlite", Driver: "sqlite", Placeholder: func(int) string { return "?" }, True: "1",
		TimestampType: "TIMESTAMP", NumericType: "NUMERIC", FloatType: "REAL"}
}

// Postgres is the dialect of PostgreSQL through pgx's database/sql driver ("pgx").
func Postgres() Dialect {
	return Dialect{Name: "postgres", Driver: "pgx", Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		True: "TRUE", TimestampType: "TIMESTAMPTZ", NumericType: "NUMERIC(14,2)", FloatType: "DOUBLE PRECISION"}
}

// DialectFor returns the dialect of a driver name ("sqlite", "pgx" or "postgres").
func DialectFor(driver string) (Dialect, error) {
	switch strings.ToLower(driver) {
	case "", "sqlite":
		return SQLite(), nil
	case "pgx", "postgres", "postgresql":
		return Postgres(), nil
	}
	return Dialect{}, fmt.Errorf("sqlerp: unknown driver %q (want sqlite or pgx)", driver)
}

var reIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// QuoteIdent validates an identifier from configuration (a column, a table,
// or schema.table) and returns it double-quoted. Anything but letters,
// digits and underscores is refused, so configuration cannot inject SQL.
func QuoteIdent(id string) (string, error) {
	parts := strings.Split(id, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("sqlerp: identifier %q has more than one dot", id)
	}
	for i, p := range parts {
		if !reIdent.MatchString(p) {
			return "", fmt.Errorf("sqlerp: identifier %q is not a plain name (letters, digits, underscores)", id)
		}
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, "."), nil
}

package sqlerp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
)

// The adapter learns the types of the key and cursor columns from the
// database (PRAGMA table_info for SQLite, pg_attribute for PostgreSQL) the
// first time it needs them: at Open when the table exists, else at the
// first call (the demo creates its table after Open). Keys travel as
// strings through the connector; the key column's type decides how a key
// string is bound (an integer column gets an integer) and whether a new
// inbound customer's key comes from the database.

// keyKind is how a key column's values are bound.
type keyKind int

const (
	// keyText binds the string as it is.
	keyText keyKind = iota
	// keyInt binds an integer (PostgreSQL smallint, integer, bigint); a
	// string that is not one matches no row.
	keyInt
	// keyNumeric binds a checked decimal string (PostgreSQL numeric).
	keyNumeric
	// keyUUID binds a checked UUID string (PostgreSQL uuid).
	keyUUID
	// keyLoose is a SQLite column of integer, real or numeric affinity: an
	// integer string is bound as an integer, anything else as text (SQLite
	// stores what does not convert as text, so it may be a key too).
	keyLoose
	// keyOther is any other PostgreSQL type: the string is bound and the
	// database converts it.
	keyOther
)

// keyCol is a key column as the database declares it.
type keyCol struct {
	// name is the configured column name.
	name string
	// typ is the type the database reports, for messages.
	typ  string
	kind keyKind
	// bits bounds a keyInt (16, 32 or 64).
	bits int
	// auto: the database fills the column on insert (identity, serial or
	// another default, SQLite's INTEGER PRIMARY KEY).
	auto bool
	// always: PostgreSQL GENERATED ALWAYS AS IDENTITY (an explicit value
	// needs OVERRIDING SYSTEM VALUE).
	always bool
}

// textual reports whether any string is a possible key.
func (k keyCol) textual() bool { return k.kind == keyText }

var (
	reDecimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	reUUID    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// arg converts a key string to the value bound for the column; ok is false
// when s cannot be a key of the column (no row has it).
func (k keyCol) arg(s string) (v any, ok bool) {
	switch k.kind {
	case keyInt:
		n, err := strconv.ParseInt(s, 10, k.bits)
		if err != nil {
			return nil, false
		}
		return n, true
	case keyLoose:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		return s, true
	case keyNumeric:
		return s, reDecimal.MatchString(s)
	case keyUUID:
		h := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
		return s, reUUID.MatchString(strings.ReplaceAll(h, "-", ""))
	}
	return s, true
}

// curRep is how the adapter reads, orders and binds the change cursor.
type curRep int

const (
	// curTime: a native timestamp (PostgreSQL timestamp, timestamptz, date).
	curTime curRep = iota
	// curInt: an integer (a row version, or Unix seconds in an integer column).
	curInt
	// curUnix: Unix seconds as a real number (SQLite's normalised timestamp,
	// a PostgreSQL real or double precision column of Unix seconds).
	curUnix
)

// schemaInfo is what the adapter learned from the database.
type schemaInfo struct {
	key, inKey keyCol
	cur        curRep
	// curType is the cursor column's type as the database reports it.
	curType string
	// targets are the tables a key is looked up in.
	targets []target
}

// errNoTable means the table does not exist (yet).
var errNoTable = errors.New("does not exist")

// column is one column of a table as the database describes it.
type column struct {
	name, typ, base string
	pk              int // SQLite: 1-based position in the primary key
	def, identity   bool
	always          bool
}

// schema returns the detected schema, detecting it on first use.
func (t *Table) schema(ctx context.Context) (*schemaInfo, error) {
	if s := t.detected.Load(); s != nil {
		return s, nil
	}
	t.detectMu.Lock()
	defer t.detectMu.Unlock()
	if s := t.detected.Load(); s != nil {
		return s, nil
	}
	s, err := t.detect(ctx)
	if err != nil {
		return nil, err
	}
	s.targets = t.targetsFor(s)
	t.detected.Store(s)
	return s, nil
}

// CheckSchema reads the table's (and the inbound table's) columns from the
// database and reports what the configuration names that the database does
// not have, or a key or cursor column of a type the adapter cannot use.
// Open runs it when the table exists; every call runs it once before its
// first query.
func (t *Table) CheckSchema(ctx context.Context) error {
	_, err := t.schema(ctx)
	return err
}

func (t *Table) detect(ctx context.Context) (*schemaInfo, error) {
	cols, err := t.columns(ctx, t.cfg.Table)
	if err != nil {
		return nil, err
	}
	s := &schemaInfo{}
	var problems []string
	missing := func(table, key, col string, cols map[string]column) {
		if _, ok := t.lookup(cols, col); !ok {
			problems = append(problems, fmt.Sprintf("%s: column %q not found in %s", key, col, table))
		}
	}
	kc, ok := t.lookup(cols, t.cfg.KeyColumn)
	if !ok {
		missing(t.cfg.Table, "key_column", t.cfg.KeyColumn, cols)
	} else {
		s.key = t.keyColumn(kc)
	}
	if cc, ok := t.lookup(cols, t.cfg.CursorColumn); !ok {
		missing(t.cfg.Table, "cursor_column", t.cfg.CursorColumn, cols)
	} else if err := t.cursorColumn(s, cc); err != nil {
		problems = append(problems, err.Error())
	}
	// The columns every read selects (and an upsert writes, but for a
	// rule on the table's key column).
	check := func(table string, cols map[string]column) {
		for i, f := range t.cfg.Flags {
			missing(table, fmt.Sprintf("flags[%d].column", i), f.Column, cols)
		}
		if t.cfg.DeletedColumn != "" {
			missing(table, "deleted_column", t.cfg.DeletedColumn, cols)
		}
		for i, w := range t.cfg.WriteBack {
			missing(table, fmt.Sprintf("write_back[%d].column", i), w.Column, cols)
		}
		for i, r := range t.cfg.Rules {
			if r.ERP == "" || table != t.cfg.Table && r.ERP == t.cfg.KeyColumn {
				continue // an expression rule: its columns below
			}
			missing(table, fmt.Sprintf("rules[%d].erp", i), r.ERP, cols)
		}
		ruleCols, writable := t.rules.Columns(), t.rules.Writable()
		for i, col := range ruleCols {
			if !writable[i] && !(table != t.cfg.Table && col == t.cfg.KeyColumn) {
				missing(table, "rules (expression column)", col, cols)
			}
		}
	}
	check(t.cfg.Table, cols)
	s.inKey = s.key
	if t.separateInbound() {
		icols, err := t.columns(ctx, t.cfg.InboundTable)
		switch {
		case errors.Is(err, errNoTable):
			problems = append(problems, fmt.Sprintf("inbound_table: %s does not exist", t.cfg.InboundTable))
		case err != nil:
			return nil, err
		default:
			if ic, ok := t.lookup(icols, t.cfg.InboundKeyColumn); !ok {
				missing(t.cfg.InboundTable, "inbound_key_column", t.cfg.InboundKeyColumn, icols)
			} else {
				s.inKey = t.keyColumn(ic)
			}
			missing(t.cfg.InboundTable, "cursor_column", t.cfg.CursorColumn, icols)
			check(t.cfg.InboundTable, icols)
		}
	}
	if len(problems) > 0 {
		return nil, apierr.Permanently(&SchemaError{Problems: problems})
	}
	return s, nil
}

// inMainTable reports whether the table (not the inbound table) holds key.
func (t *Table) inMainTable(ctx context.Context, tx *sql.Tx, sch *schemaInfo, key string) (bool, error) {
	k, ok := sch.key.arg(key)
	if !ok {
		return false, nil
	}
	q := fmt.Sprintf("SELECT 1 FROM %s WHERE %s = %s", t.q.table, t.q.key, t.d.Placeholder(1))
	st, err := t.prepared(ctx, q)
	if err != nil {
		return false, classify(err)
	}
	var one int
	switch err := tx.StmtContext(ctx, st).QueryRowContext(ctx, k).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, classify(err)
	}
	return true, nil
}

// separateInbound reports whether inbound customers go to a table of their own.
func (t *Table) separateInbound() bool {
	return t.cfg.InboundTable != t.cfg.Table || t.cfg.InboundKeyColumn != t.cfg.KeyColumn
}

// lookup finds a column by name (SQLite compares names case-insensitively).
func (t *Table) lookup(cols map[string]column, name string) (column, bool) {
	if t.d.Name == "sqlite" {
		name = strings.ToLower(name)
	}
	c, ok := cols[name]
	return c, ok
}

// splitTable splits "schema.table".
func splitTable(table string) (schema, name string) {
	if s, n, ok := strings.Cut(table, "."); ok {
		return s, n
	}
	return "", table
}

// columns reads a table's columns; errNoTable when it does not exist.
func (t *Table) columns(ctx context.Context, table string) (map[string]column, error) {
	cols := map[string]column{}
	if t.d.Name == "sqlite" {
		schema, name := splitTable(table)
		if schema == "" {
			schema = "main"
		}
		rows, err := t.db.QueryContext(ctx, `SELECT name, type, pk, dflt_value IS NOT NULL FROM pragma_table_info(?, ?)`, name, schema)
		if err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
		}
		defer rows.Close()
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.name, &c.typ, &c.pk, &c.def); err != nil {
				return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
			}
			c.base = strings.ToUpper(c.typ)
			cols[strings.ToLower(c.name)] = c
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("table %s %w", table, errNoTable)
		}
		// INTEGER PRIMARY KEY is the rowid, which SQLite fills, unless the
		// table is WITHOUT ROWID.
		var pks []string
		for n, c := range cols {
			if c.pk > 0 {
				pks = append(pks, n)
			}
		}
		if len(pks) == 1 && cols[pks[0]].base == "INTEGER" {
			var wr bool
			err := t.db.QueryRowContext(ctx, `SELECT wr FROM pragma_table_list(?) WHERE schema = ?`, name, schema).Scan(&wr)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
			}
			if !wr {
				c := cols[pks[0]]
				c.identity = true
				cols[pks[0]] = c
			}
		}
		return cols, nil
	}
	qt, err := QuoteIdent(table)
	if err != nil {
		return nil, err
	}
	// Domains are resolved to their base type.
	const q = `SELECT a.attname, format_type(a.atttypid, a.atttypmod), bt.typname,
		d.adbin IS NOT NULL, a.attidentity <> '' OR a.attgenerated <> '', a.attidentity = 'a'
	FROM pg_attribute a
	JOIN pg_type ty ON ty.oid = a.atttypid
	JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`
	rows, err := t.db.QueryContext(ctx, q, qt)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.base, &c.def, &c.identity, &c.always); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
		}
		cols[c.name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, classify(err))
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s %w", table, errNoTable)
	}
	return cols, nil
}

// keyColumn describes a key column.
func (t *Table) keyColumn(c column) keyCol {
	k := keyCol{name: c.name, typ: c.typ, auto: c.def || c.identity, always: c.always}
	if t.d.Name == "sqlite" {
		// SQLite's affinity rules (https://sqlite.org/datatype3.html).
		switch u := c.base; {
		case c.identity:
			// The rowid: an integer, nothing else.
			k.kind, k.bits = keyInt, 64
		case strings.Contains(u, "INT"):
			k.kind = keyLoose
		case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"),
			strings.Contains(u, "BLOB"), u == "":
			k.kind = keyText
		default:
			k.kind = keyLoose
		}
		return k
	}
	switch c.base {
	case "int2":
		k.kind, k.bits = keyInt, 16
	case "int4":
		k.kind, k.bits = keyInt, 32
	case "int8":
		k.kind, k.bits = keyInt, 64
	case "numeric":
		k.kind = keyNumeric
	case "uuid":
		k.kind = keyUUID
	case "text", "varchar", "bpchar", "citext", "name":
		k.kind = keyText
	default:
		k.kind = keyOther
	}
	return k
}

// cursorColumn sets how the cursor column is read and compared.
func (t *Table) cursorColumn(s *schemaInfo, c column) error {
	s.curType = c.typ
	if t.d.Name == "sqlite" {
		// SQLite holds whatever it was given: a timestamp is normalised to
		// Unix seconds in SQL (sqliteTime), a version must be an integer
		// (checked row by row).
		s.cur = curUnix
		if t.cfg.CursorKind == CursorVersion {
			s.cur = curInt
		}
		return nil
	}
	isInt := slices.Contains([]string{"int2", "int4", "int8"}, c.base)
	if t.cfg.CursorKind == CursorVersion {
		if !isInt {
			return fmt.Errorf("cursor_column: %q is %s; a version cursor needs an integer column (smallint, integer, bigint)", c.name, c.typ)
		}
		s.cur = curInt
		return nil
	}
	switch {
	case c.base == "timestamptz" || c.base == "timestamp" || c.base == "date":
		s.cur = curTime
	case isInt:
		s.cur = curInt // Unix seconds
	case c.base == "float4" || c.base == "float8":
		s.cur = curUnix
	default:
		return fmt.Errorf("cursor_column: %q is %s; a timestamp cursor needs a timestamp, timestamptz or date column (or Unix seconds in an integer or double precision column)", c.name, c.typ)
	}
	return nil
}

// notAKey is the error for a key string that cannot be a key of the column.
func notAKey(op, key string) error { return erp.NotFound(op, key) }

// Package sqlerp is the ERP adapter for customer data in a SQL table or
// view, through database/sql: SQLite (modernc.org/sqlite, the embedded
// default) and PostgreSQL (pgx). Which rows are read, and how their columns
// become a mapping.Customer, is configuration: the table, the key column,
// the field rules, the per-platform flag columns, the change cursor column
// (an updated-at timestamp or a row version), the deleted column and the
// write-back columns.
//
// Changes walk the table in (cursor column, key) order, so rows that share a
// timestamp are neither skipped nor repeated across pages.
package sqlerp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// Cursor kinds.
const (
	// CursorTimestamp: the cursor column is an updated-at timestamp.
	CursorTimestamp = "timestamp"
	// CursorVersion: the cursor column is an increasing integer row version.
	CursorVersion = "version"
)

// DefaultPageSize is used when Changes is called with limit <= 0.
const DefaultPageSize = 500

// Config describes the ERP's customer table.
type Config struct {
	// Driver is "sqlite" (default) or "pgx".
	Driver string `mapstructure:"driver"`
	// DSN is the data source name: a file path for SQLite, a postgres:// URL
	// for PostgreSQL. It may hold a password and is never logged.
	DSN string `mapstructure:"dsn"`
	// Table is the table (or view) holding customers, optionally schema.table.
	Table string `mapstructure:"table"`
	// InboundTable receives customers that come from the platforms (default
	// Table). It must be a table with a unique key column. When it differs
	// from Table, Get sees an upserted customer once the ERP has moved it
	// into Table.
	InboundTable string `mapstructure:"inbound_table"`
	// KeyColumn is the customer key column (unique).
	KeyColumn string `mapstructure:"key_column"`
	// Rules map the data columns to canonical fields.
	Rules []mapping.FieldRule `mapstructure:"rules"`
	// Flags are the per-platform "send to" check box columns.
	Flags []PlatformColumn `mapstructure:"flags"`
	// CursorColumn is the change cursor column; it must never be NULL and
	// should be indexed together with the key column. With SQLite a
	// timestamp cursor is compared as stored, so the ERP must write it in one
	// format (as the driver writes time values); a version cursor has no
	// such constraint.
	CursorColumn string `mapstructure:"cursor_column"`
	// CursorKind is "timestamp" (default) or "version".
	CursorKind string `mapstructure:"cursor_kind"`
	// DeletedColumn marks deleted customers (optional).
	DeletedColumn string `mapstructure:"deleted_column"`
	// WriteBack are the columns receiving platform ids.
	WriteBack []PlatformColumn `mapstructure:"write_back"`
	// IncludeUnflagged makes Changes return changed rows without any flag
	// too, so the connector can apply its unflag policy.
	IncludeUnflagged bool `mapstructure:"include_unflagged"`
	// SettleTime holds back rows whose updated-at is less than this long
	// ago, so that a row committed late with an earlier timestamp (a long
	// ERP transaction) is not passed by the cursor. Timestamp cursors only;
	// it assumes the ERP's clock and the connector's agree.
	SettleTime time.Duration `mapstructure:"settle_time"`
}

// PlatformColumn names a column that belongs to one platform.
type PlatformColumn = erp.PlatformColumn

// String describes the configuration without the DSN (which may hold a password).
func (c Config) String() string {
	return fmt.Sprintf("sqlerp.Config{Driver:%s Table:%s Key:%s Cursor:%s/%s Rules:%d}", c.Driver, c.Table, c.KeyColumn,
		c.CursorColumn, c.CursorKind, len(c.Rules))
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	check := func(what, id string, required bool) {
		if id == "" {
			if required {
				errs = append(errs, fmt.Errorf("sqlerp: %s is required", what))
			}
			return
		}
		if _, err := QuoteIdent(id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	if _, err := DialectFor(c.Driver); err != nil {
		errs = append(errs, err)
	}
	check("table", c.Table, true)
	check("inbound_table", c.InboundTable, false)
	check("key_column", c.KeyColumn, true)
	check("cursor_column", c.CursorColumn, true)
	check("deleted_column", c.DeletedColumn, false)
	switch c.CursorKind {
	case "", CursorTimestamp, CursorVersion:
	default:
		errs = append(errs, fmt.Errorf("sqlerp: cursor_kind %q (want timestamp or version)", c.CursorKind))
	}
	if len(c.Flags) == 0 {
		errs = append(errs, errors.New("sqlerp: at least one flag column is required"))
	}
	for i, f := range c.Flags {
		if !f.Platform.Valid() {
			errs = append(errs, fmt.Errorf("sqlerp: flags[%d]: unknown platform %q", i, f.Platform))
		}
		check(fmt.Sprintf("flags[%d].column", i), f.Column, true)
	}
	for i, f := range c.WriteBack {
		if !f.Platform.Valid() {
			errs = append(errs, fmt.Errorf("sqlerp: write_back[%d]: unknown platform %q", i, f.Platform))
		}
		check(fmt.Sprintf("write_back[%d].column", i), f.Column, true)
	}
	for i, r := range c.Rules {
		check(fmt.Sprintf("rules[%d].erp", i), r.ERP, true)
	}
	if _, err := mapping.CompileRules(c.Rules); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Table is the SQL adapter. It is safe for concurrent use.
type Table struct {
	db      *sql.DB
	ownDB   bool
	d       Dialect
	cfg     Config
	rules   *mapping.Rules
	log     *slog.Logger
	now     func() time.Time
	q       quoted
	sel     string // the column list of every SELECT
	nFixed  int    // columns before the rule columns
	ruleCol []string
	stmts   stmtCache
	// writeMu serialises this process's SQLite writes: SQLite has one
	// writer at a time anyway, and a writer that waits here starts the
	// moment the previous one ends, where SQLite's busy handler would
	// sleep and poll. Other processes are still met by the busy timeout.
	writeMu sync.Mutex
}

// writing takes the write turn for SQLite (nothing for other databases)
// and returns its release.
func (t *Table) writing() func() {
	if t.d.Name != "sqlite" {
		return func() {}
	}
	t.writeMu.Lock()
	return t.writeMu.Unlock
}

// stmtCache keeps the adapter's prepared statements: its queries come in a
// handful of shapes, and preparing one costs more than running it.
// database/sql prepares a cached statement again on each connection (and
// inside each transaction) only once. The shapes are fixed by the
// configuration (which optional columns a write names, whether a read has
// a cursor), so the cache stays small without a bound.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// prepared returns the cached statement for q, preparing it on first use.
func (t *Table) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	c := &t.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[q]; st != nil {
		return st, nil
	}
	st, err := t.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

// query runs a cached SELECT.
func (t *Table) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// exec runs a cached statement, inside tx when tx is not nil.
func (t *Table) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	st, err := t.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.ExecContext(ctx, args...)
}

type quoted struct {
	table, inbound, key, cursor, deleted string
	flags, writeBack                     []string
	rules                                []string
}

var (
	_ erp.Adapter    = (*Table)(nil)
	_ erp.Counter    = (*Table)(nil)
	_ erp.KeyLister  = (*Table)(nil)
	_ erp.ItemLister = (*Table)(nil)
	_ erp.Closer     = (*Table)(nil)
	_ erp.Holder     = (*Table)(nil)
)

// HeldFields implements erp.Holder: the fields the rules target.
func (t *Table) HeldFields() []string { return t.rules.Fields() }

// Open opens the configured database and returns the adapter; Close closes
// the database. For SQLite it sets a busy timeout and WAL mode.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Table, error) {
	d, err := DialectFor(cfg.Driver)
	if err != nil {
		return nil, err
	}
	dsn := cfg.DSN
	if d.Name == "sqlite" {
		dsn = SQLiteDSN(dsn)
	}
	db, err := sql.Open(d.Driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: open: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlerp: open: %w", classify(err))
	}
	t, err := New(db, d, cfg, log)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	t.ownDB = true
	return t, nil
}

// SQLiteDSN adds a busy timeout, WAL journaling and foreign keys to a SQLite
// file name unless the DSN sets pragmas itself.
func SQLiteDSN(dsn string) string {
	if strings.Contains(dsn, "_pragma=") {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// _txlock=immediate: a transaction that reads and then writes (Upsert)
	// takes the write lock up front; a deferred one can fail with
	// SQLITE_BUSY_SNAPSHOT under concurrent writers, which no busy timeout
	// cures.
	return dsn + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// New wraps an open database. The caller keeps ownership of db.
func New(db *sql.DB, d Dialect, cfg Config, log *slog.Logger) (*Table, error) {
	if cfg.Driver == "" {
		cfg.Driver = d.Driver
	}
	if cfg.CursorKind == "" {
		cfg.CursorKind = CursorTimestamp
	}
	if cfg.InboundTable == "" {
		cfg.InboundTable = cfg.Table
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rules, err := mapping.CompileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Table{db: db, d: d, cfg: cfg, rules: rules, log: log.With("component", "sqlerp"), now: time.Now}
	mq := func(id string) string { s, _ := QuoteIdent(id); return s }
	t.q = quoted{table: mq(cfg.Table), inbound: mq(cfg.InboundTable), key: mq(cfg.KeyColumn), cursor: mq(cfg.CursorColumn)}
	if cfg.DeletedColumn != "" {
		t.q.deleted = mq(cfg.DeletedColumn)
	}
	cols := []string{t.q.key, t.q.cursor}
	for _, f := range cfg.Flags {
		t.q.flags = append(t.q.flags, mq(f.Column))
	}
	cols = append(cols, t.q.flags...)
	if t.q.deleted != "" {
		cols = append(cols, t.q.deleted)
	}
	for _, w := range cfg.WriteBack {
		t.q.writeBack = append(t.q.writeBack, mq(w.Column))
	}
	cols = append(cols, t.q.writeBack...)
	t.nFixed = len(cols)
	t.ruleCol = rules.Columns()
	for _, c := range t.ruleCol {
		t.q.rules = append(t.q.rules, mq(c))
	}
	cols = append(cols, t.q.rules...)
	t.sel = strings.Join(cols, ", ")
	return t, nil
}

// DB returns the underlying database.
func (t *Table) DB() *sql.DB { return t.db }

// Dialect returns the adapter's dialect.
func (t *Table) Dialect() Dialect { return t.d }

// Close closes the database if Open opened it.
func (t *Table) Close() error {
	t.stmts.mu.Lock()
	for q, st := range t.stmts.m {
		_ = st.Close()
		delete(t.stmts.m, q)
	}
	t.stmts.mu.Unlock()
	if t.ownDB {
		return t.db.Close()
	}
	return nil
}

// classify marks a database error for the queue: data and constraint
// problems are permanent, everything else (locks, connections) retryable.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "22", "23", "42", "44":
			return apierr.Permanently(err)
		}
		return temporarily(err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 1, 18, 19, 20, 25: // ERROR (SQL/schema), TOOBIG, CONSTRAINT, MISMATCH, RANGE
			return apierr.Permanently(err)
		}
		return temporarily(err)
	}
	return temporarily(err)
}

// temporarily marks a database error retryable and as the ERP's, so a
// platform's circuit breaker does not count it.
func temporarily(err error) error { return apierr.At(erp.System, apierr.Temporarily(err)) }

func (t *Table) flagFilter() string {
	var parts []string
	for _, f := range t.q.flags {
		parts = append(parts, f+" = "+t.d.True)
	}
	if t.q.deleted != "" {
		parts = append(parts, t.q.deleted+" = "+t.d.True)
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// cursor is the decoded position (cursor column value, key).
type cursor struct {
	ts  time.Time
	ver int64
	key string
}

func (t *Table) encodeCursor(c cursor) string {
	if t.cfg.CursorKind == CursorVersion {
		return "v|" + strconv.FormatInt(c.ver, 10) + "|" + c.key
	}
	return "t|" + c.ts.UTC().Format(time.RFC3339Nano) + "|" + c.key
}

func (t *Table) decodeCursor(s string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	parts := strings.SplitN(s, "|", 3)
	bad := apierr.Permanently(fmt.Errorf("sqlerp: changes: malformed cursor %q", s))
	if len(parts) != 3 {
		return cursor{}, false, bad
	}
	var c cursor
	c.key = parts[2]
	switch {
	case parts[0] == "t" && t.cfg.CursorKind == CursorTimestamp:
		ts, err := time.Parse(time.RFC3339Nano, parts[1])
		if err != nil {
			return cursor{}, false, bad
		}
		c.ts = ts.UTC()
	case parts[0] == "v" && t.cfg.CursorKind == CursorVersion:
		v, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return cursor{}, false, bad
		}
		c.ver = v
	default:
		return cursor{}, false, bad
	}
	return c, true, nil
}

func (t *Table) cursorArg(c cursor) any {
	if t.cfg.CursorKind == CursorVersion {
		return c.ver
	}
	return c.ts
}

// Changes implements erp.Adapter.
func (t *Table) Changes(ctx context.Context, cur string, limit int) (erp.Page, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	c, has, err := t.decodeCursor(cur)
	if err != nil {
		return erp.Page{}, err
	}
	var b strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return t.d.Placeholder(len(args))
	}
	fmt.Fprintf(&b, "SELECT %s FROM %s WHERE ", t.sel, t.q.table)
	if t.cfg.IncludeUnflagged {
		b.WriteString("1 = 1")
	} else {
		b.WriteString(t.flagFilter())
	}
	if has {
		// A row-value comparison, so both databases can walk the
		// (cursor, key) index instead of scanning.
		fmt.Fprintf(&b, " AND (%s, %s) > (%s, %s)", t.q.cursor, t.q.key, arg(t.cursorArg(c)), arg(c.key))
	}
	if t.cfg.SettleTime > 0 && t.cfg.CursorKind == CursorTimestamp {
		fmt.Fprintf(&b, " AND %s <= %s", t.q.cursor, arg(t.now().UTC().Add(-t.cfg.SettleTime)))
	}
	fmt.Fprintf(&b, " ORDER BY %s, %s LIMIT %d", t.q.cursor, t.q.key, limit+1)
	rows, err := t.query(ctx, b.String(), args...)
	if err != nil {
		return erp.Page{}, fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	defer rows.Close()
	page := erp.Page{Cursor: cur}
	var last cursor
	sc := t.newScanner()
	for rows.Next() {
		if len(page.Items) == limit {
			page.More = true
			break
		}
		it, pos, err := sc.scan(rows)
		if err != nil {
			return erp.Page{}, fmt.Errorf("sqlerp: changes: %w", err)
		}
		page.Items = append(page.Items, it)
		last = pos
	}
	if err := rows.Err(); err != nil {
		return erp.Page{}, fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	if len(page.Items) > 0 {
		page.Cursor = t.encodeCursor(last)
	}
	return page, nil
}

type scanner struct {
	t     *Table
	cur   anyValue
	fixed []anyValue
	vals  []sql.NullString
	dest  []any
	strs  []string
}

type anyValue struct{ v any }

func (a *anyValue) Scan(src any) error {
	if b, ok := src.([]byte); ok {
		src = string(b)
	}
	a.v = src
	return nil
}

func (t *Table) newScanner() *scanner {
	s := &scanner{t: t, fixed: make([]anyValue, t.nFixed), vals: make([]sql.NullString, len(t.ruleCol)),
		strs: make([]string, len(t.ruleCol))}
	s.dest = make([]any, 0, t.nFixed+len(t.ruleCol))
	for i := range s.fixed {
		s.dest = append(s.dest, &s.fixed[i])
	}
	for i := range s.vals {
		s.dest = append(s.dest, &s.vals[i])
	}
	return s
}

func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func asBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case float64:
		return x != 0, nil
	}
	return mapping.ParseBool(asString(v))
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}

func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		for _, l := range timeLayouts {
			if ts, err := time.Parse(l, x); err == nil {
				return ts.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("cursor value %v is not a timestamp", v)
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("cursor value %v is not an integer", v)
}

// scan reads one row into an Item and its cursor position. Only a row whose
// key or cursor cannot be read is an error for the whole call; data problems
// land in Item.Err.
func (s *scanner) scan(rows *sql.Rows) (erp.Item, cursor, error) {
	if err := rows.Scan(s.dest...); err != nil {
		return erp.Item{}, cursor{}, classify(err)
	}
	t := s.t
	var pos cursor
	pos.key = asString(s.fixed[0].v)
	var err error
	if t.cfg.CursorKind == CursorVersion {
		pos.ver, err = asInt(s.fixed[1].v)
	} else {
		pos.ts, err = asTime(s.fixed[1].v)
	}
	if err != nil {
		return erp.Item{}, cursor{}, apierr.Permanently(fmt.Errorf("row %q: %w", pos.key, err))
	}
	for i := range s.vals {
		s.strs[i] = s.vals[i].String
	}
	c, ferrs := t.rules.Apply(s.strs)
	c.ERPKey = pos.key
	if t.cfg.CursorKind == CursorTimestamp {
		c.UpdatedAt = pos.ts
	}
	i := 2
	for _, f := range t.cfg.Flags {
		b, err := asBool(s.fixed[i].v)
		if err != nil {
			ferrs = append(ferrs, apierr.FieldError{Field: "flags." + string(f.Platform), Message: err.Error()})
		}
		switch f.Platform {
		case mapping.PlatformONe:
			c.Flags.ONe = c.Flags.ONe || b
		case mapping.PlatformCustomerAPI:
			c.Flags.CustomerAPI = c.Flags.CustomerAPI || b
		}
		i++
	}
	if t.q.deleted != "" {
		b, err := asBool(s.fixed[i].v)
		if err != nil {
			ferrs = append(ferrs, apierr.FieldError{Field: "deleted", Message: err.Error()})
		}
		c.Deleted = b
		i++
	}
	for _, w := range t.cfg.WriteBack {
		c.PlatformIDs.Set(w.Platform, asString(s.fixed[i].v))
		i++
	}
	it := erp.Item{Key: pos.key, Customer: c}
	if err := mapping.Validate(c); err != nil {
		var ve *mapping.ValidationError
		if errors.As(err, &ve) {
			ve.Fields = append(ferrs, ve.Fields...)
		}
		it.Err = err
	} else if len(ferrs) > 0 && !c.Deleted {
		it.Err = &mapping.ValidationError{Key: pos.key, Fields: ferrs}
	}
	return it, pos, nil
}

// Get implements erp.Adapter.
func (t *Table) Get(ctx context.Context, key string) (erp.Item, error) {
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s", t.sel, t.q.table, t.q.key, t.d.Placeholder(1))
	rows, err := t.query(ctx, q, key)
	if err != nil {
		return erp.Item{}, fmt.Errorf("sqlerp: get: %w", classify(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return erp.Item{}, fmt.Errorf("sqlerp: get: %w", classify(err))
		}
		return erp.Item{}, erp.NotFound("sqlerp: get", key)
	}
	it, _, err := t.newScanner().scan(rows)
	if err != nil {
		return erp.Item{}, fmt.Errorf("sqlerp: get: %w", err)
	}
	return it, nil
}

func (t *Table) writeBackColumn(p mapping.Platform) string {
	for i, w := range t.cfg.WriteBack {
		if w.Platform == p {
			return t.q.writeBack[i]
		}
	}
	return ""
}

// findByPlatformID looks for the key of the customer holding a platform id.
func (t *Table) findByPlatformID(ctx context.Context, tx *sql.Tx, c mapping.Customer) (string, error) {
	for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
		id, col := c.PlatformIDs.Get(p), t.writeBackColumn(p)
		if id == "" || col == "" {
			continue
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s ORDER BY %s LIMIT 1", t.q.key, t.q.inbound, col, t.d.Placeholder(1), t.q.key)
		var key string
		st, err := t.prepared(ctx, q)
		if err != nil {
			return "", classify(err)
		}
		switch err := tx.StmtContext(ctx, st).QueryRowContext(ctx, id).Scan(&key); {
		case err == nil:
			return key, nil
		case !errors.Is(err, sql.ErrNoRows):
			return "", classify(err)
		}
	}
	return "", nil
}

// Upsert implements erp.Adapter. Flags already set in the ERP are never
// cleared by an upsert, and platform ids are only written when present.
func (t *Table) Upsert(ctx context.Context, c mapping.Customer) (string, error) {
	defer t.writing()()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("sqlerp: upsert: %w", classify(err))
	}
	defer func() { _ = tx.Rollback() }()
	if c.ERPKey == "" {
		key, err := t.findByPlatformID(ctx, tx, c)
		if err != nil {
			return "", fmt.Errorf("sqlerp: upsert: %w", err)
		}
		if key == "" {
			key = erp.NewKey(c)
		}
		c.ERPKey = key
	}
	c.Deleted = false
	if err := mapping.Validate(c); err != nil {
		return "", fmt.Errorf("sqlerp: upsert: %w", err)
	}
	var cols, vals, sets []string
	var args []any
	add := func(col string, v any, update bool) {
		args = append(args, v)
		cols = append(cols, col)
		vals = append(vals, t.d.Placeholder(len(args)))
		if update {
			sets = append(sets, col+" = excluded."+col)
		}
	}
	add(t.q.key, c.ERPKey, false)
	seen := map[string]bool{t.q.key: true}
	for i, v := range t.rules.Values(c) {
		col := t.q.rules[i]
		if seen[col] {
			continue
		}
		seen[col] = true
		var arg any
		if v != "" {
			arg = v
		}
		add(col, arg, true)
	}
	for i, f := range t.cfg.Flags {
		on := (f.Platform == mapping.PlatformONe && c.Flags.ONe) || (f.Platform == mapping.PlatformCustomerAPI && c.Flags.CustomerAPI)
		if !seen[t.q.flags[i]] {
			seen[t.q.flags[i]] = true
			add(t.q.flags[i], on, on)
		}
	}
	for i, w := range t.cfg.WriteBack {
		if id := c.PlatformIDs.Get(w.Platform); id != "" && !seen[t.q.writeBack[i]] {
			seen[t.q.writeBack[i]] = true
			add(t.q.writeBack[i], id, true)
		}
	}
	if t.q.deleted != "" {
		add(t.q.deleted, false, true)
	}
	// Touch the change cursor so other ERP consumers see the change.
	if t.cfg.CursorKind == CursorVersion {
		cols = append(cols, t.q.cursor)
		vals = append(vals, fmt.Sprintf("(SELECT COALESCE(MAX(%s), 0) + 1 FROM %s)", t.q.cursor, t.q.inbound))
		sets = append(sets, t.q.cursor+" = excluded."+t.q.cursor)
	} else {
		add(t.q.cursor, t.now().UTC(), true)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s", t.q.inbound,
		strings.Join(cols, ", "), strings.Join(vals, ", "), t.q.key, strings.Join(sets, ", "))
	if _, err := t.exec(ctx, tx, q, args...); err != nil {
		return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, classify(err))
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, classify(err))
	}
	t.log.DebugContext(ctx, "upserted customer", "erp_key", c.ERPKey)
	return c.ERPKey, nil
}

func (t *Table) update(ctx context.Context, op, key, set string, args ...any) error {
	args = append(args, key)
	q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s", t.q.table, set, t.q.key, t.d.Placeholder(len(args)))
	release := t.writing()
	res, err := t.exec(ctx, nil, q, args...)
	release()
	if err != nil {
		return fmt.Errorf("sqlerp: %s %q: %w", op, key, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlerp: %s %q: %w", op, key, classify(err))
	}
	if n == 0 {
		return erp.NotFound("sqlerp: "+op, key)
	}
	return nil
}

func (t *Table) platformColumn(op string, p mapping.Platform) (string, error) {
	col := t.writeBackColumn(p)
	if col == "" {
		return "", apierr.Permanently(fmt.Errorf("sqlerp: %s: no write-back column for platform %q: %w", op, p, erp.ErrUnsupported))
	}
	return col, nil
}

// SetPlatformID implements erp.Adapter.
func (t *Table) SetPlatformID(ctx context.Context, key string, p mapping.Platform, id string) error {
	errs, err := t.SetPlatformIDs(ctx, []erp.PlatformID{{Key: key, Platform: p, ID: id}})
	if err != nil {
		return err
	}
	return errs[0]
}

// SetPlatformIDs implements erp.PlatformIDWriter: the write-backs in one
// transaction, one prepared statement per platform.
func (t *Table) SetPlatformIDs(ctx context.Context, ids []erp.PlatformID) ([]error, error) {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs, nil
	}
	defer t.writing()()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: set platform ids: %w", classify(err))
	}
	defer func() { _ = tx.Rollback() }()
	type update struct {
		st  *sql.Stmt
		err error // the platform has no write-back column
	}
	updates := map[mapping.Platform]update{}
	for i, it := range ids {
		u, ok := updates[it.Platform]
		if !ok {
			var col string
			if col, u.err = t.platformColumn("set platform id", it.Platform); u.err == nil {
				q := fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s = %s", t.q.table, col, t.d.Placeholder(1), t.q.key, t.d.Placeholder(2))
				st, err := t.prepared(ctx, q)
				if err != nil {
					return nil, fmt.Errorf("sqlerp: set platform ids: %w", classify(err))
				}
				u.st = tx.StmtContext(ctx, st)
			}
			updates[it.Platform] = u
		}
		if u.err != nil {
			errs[i] = u.err
			continue
		}
		res, err := u.st.ExecContext(ctx, it.ID, it.Key)
		if err != nil {
			return nil, fmt.Errorf("sqlerp: set platform id %q: %w", it.Key, classify(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("sqlerp: set platform id %q: %w", it.Key, classify(err))
		}
		if n == 0 {
			errs[i] = erp.NotFound("sqlerp: set platform id", it.Key)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlerp: set platform ids: %w", classify(err))
	}
	return errs, nil
}

// Unlink implements erp.Adapter.
func (t *Table) Unlink(ctx context.Context, key string, p mapping.Platform) error {
	col, err := t.platformColumn("unlink", p)
	if err != nil {
		return err
	}
	return t.update(ctx, "unlink", key, col+" = NULL")
}

// MarkDeleted implements erp.Adapter.
func (t *Table) MarkDeleted(ctx context.Context, key string) error {
	if t.q.deleted == "" {
		return apierr.Permanently(fmt.Errorf("sqlerp: mark deleted: no deleted column: %w", erp.ErrUnsupported))
	}
	return t.update(ctx, "mark deleted", key, t.q.deleted+" = "+t.d.Placeholder(1), true)
}

// CountFlagged implements erp.Counter.
func (t *Table) CountFlagged(ctx context.Context) (int, error) {
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", t.q.table, t.flagFilter())
	var n int
	if err := t.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlerp: count: %w", classify(err))
	}
	return n, nil
}

// ListItems implements erp.ItemLister.
func (t *Table) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s > %s ORDER BY %s LIMIT %d", t.sel, t.q.table, t.flagFilter(),
		t.q.key, t.d.Placeholder(1), t.q.key, limit)
	rows, err := t.query(ctx, q, after)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
	}
	defer rows.Close()
	var items []erp.Item
	sc := t.newScanner()
	for rows.Next() {
		it, _, err := sc.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlerp: list items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
	}
	return items, nil
}

// ListKeys implements erp.KeyLister.
func (t *Table) ListKeys(ctx context.Context, after string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s > %s ORDER BY %s LIMIT %d", t.q.key, t.q.table, t.flagFilter(),
		t.q.key, t.d.Placeholder(1), t.q.key, limit)
	rows, err := t.query(ctx, q, after)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
	}
	return slices.Clip(keys), nil
}

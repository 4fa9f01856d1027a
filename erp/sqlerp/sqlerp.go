// Package sqlerp is the ERP adapter for customer data in a SQL table or
// view, through database/sql: SQLite (modernc.org/sqlite, the embedded
// default) and PostgreSQL (pgx). Which rows are read, and how their columns
// become a mapping.Customer, is configuration: the table, the key column,
// the field rules, the per-platform flag columns, the change cursor column
// (an updated-at timestamp or a row version), the deleted column and the
// write-back columns.
//
// Changes walk the table in (cursor column, key) order, compared in the
// database's own terms (see cursor.go), so rows that share a timestamp are
// neither skipped nor repeated across pages, whatever notation the ERP
// writes its timestamps in.
//
// Keys are strings to the connector and of any type in the database
// (text, integer, numeric, uuid): the adapter reads the key column's type
// from the database and binds keys accordingly (schema.go). A customer that
// arrives from a platform without a key gets its key from the database
// when the key column has a default (an identity, a sequence, SQLite's
// INTEGER PRIMARY KEY), else, for a text key, erp.NewKey.
package sqlerp

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/problem"
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
	// Table). It must be a table with a unique key column
	// (InboundKeyColumn) and the columns of Table that an upsert writes
	// (the rule, flag, write-back, deleted and cursor columns). When it
	// differs from Table, Get, the write-backs, Unlink and MarkDeleted look
	// for a key in Table first, then in InboundTable, so an upserted
	// customer is found before the ERP moves it into Table.
	InboundTable string `mapstructure:"inbound_table"`
	// InboundKeyColumn is the key column of InboundTable (default KeyColumn).
	InboundKeyColumn string `mapstructure:"inbound_key_column"`
	// KeyColumn is the customer key column (unique). Its type may be text,
	// an integer, numeric or uuid; when a customer comes from a platform
	// without a key, a default on the inbound key column (an identity, a
	// sequence, SQLite's INTEGER PRIMARY KEY) numbers it, and a text key
	// column without one gets erp.NewKey.
	KeyColumn string `mapstructure:"key_column"`
	// Rules map the data columns to canonical fields.
	Rules []mapping.FieldRule `mapstructure:"rules"`
	// Flags are the per-platform "send to" check box columns.
	Flags []PlatformColumn `mapstructure:"flags"`
	// CursorColumn is the change cursor column; it must never be NULL (a
	// row holding NULL, or with SQLite text that is no timestamp, makes
	// Changes fail naming the row, once the rows it can order are read) and
	// should be indexed together with the key column (ChangesIndex gives
	// the statement). A PostgreSQL timestamp cursor is a timestamp,
	// timestamptz or date column (or Unix seconds in a number column); a
	// SQLite one may hold text in the common notations or Unix seconds,
	// mixed (see sqliteTime).
	CursorColumn string `mapstructure:"cursor_column"`
	// CursorKind is "timestamp" (default) or "version" (an integer that
	// grows with every change).
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
	// it assumes the ERP's clock and the connector's agree (a timestamp
	// without a time zone, or SQLite text without an offset, is taken as
	// UTC).
	SettleTime time.Duration `mapstructure:"settle_time"`
}

// PlatformColumn names a column that belongs to one platform.
type PlatformColumn = erp.PlatformColumn

// String describes the configuration without the DSN (which may hold a password).
func (c Config) String() string {
	return fmt.Sprintf("sqlerp.Config{Driver:%s Table:%s Key:%s Inbound:%s/%s Cursor:%s/%s Rules:%d}", c.Driver, c.Table, c.KeyColumn,
		c.InboundTable, c.InboundKeyColumn, c.CursorColumn, c.CursorKind, len(c.Rules))
}

// Validate reports every problem of the configuration at once, each a
// *problem.Problem whose path is the key inside this section (table,
// flags[0].column, rules[3]).
func (c Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, problem.New(path, format, args...)) }
	check := func(what, id string, required bool) {
		if id == "" {
			if required {
				add(what, "is required")
			}
			return
		}
		if _, err := QuoteIdent(id); err != nil {
			add(what, "%s", strings.TrimPrefix(err.Error(), "sqlerp: "))
		}
	}
	if _, err := DialectFor(c.Driver); err != nil {
		add("driver", "%s", strings.TrimPrefix(err.Error(), "sqlerp: "))
	}
	check("table", c.Table, true)
	check("inbound_table", c.InboundTable, false)
	check("key_column", c.KeyColumn, true)
	check("inbound_key_column", c.InboundKeyColumn, false)
	if c.InboundKeyColumn != "" && c.InboundKeyColumn != c.KeyColumn && (c.InboundTable == "" || c.InboundTable == c.Table) {
		add("inbound_key_column", "%q differs from key_column %q but inbound_table is the table itself: set inbound_table, or drop inbound_key_column", c.InboundKeyColumn, c.KeyColumn)
	}
	check("cursor_column", c.CursorColumn, true)
	check("deleted_column", c.DeletedColumn, false)
	if c.SettleTime < 0 {
		add("settle_time", "must not be negative, got %s (0 holds nothing back)", c.SettleTime)
	}
	switch c.CursorKind {
	case "", CursorTimestamp, CursorVersion:
	default:
		add("cursor_kind", "%q: want timestamp or version", c.CursorKind)
	}
	if len(c.Flags) == 0 {
		add("flags", "at least one flag column is required")
	}
	for i, f := range c.Flags {
		if !f.Platform.Valid() {
			add(fmt.Sprintf("flags[%d].platform", i), "unknown platform %q", f.Platform)
		}
		check(fmt.Sprintf("flags[%d].column", i), f.Column, true)
	}
	for i, f := range c.WriteBack {
		if !f.Platform.Valid() {
			add(fmt.Sprintf("write_back[%d].platform", i), "unknown platform %q", f.Platform)
		}
		check(fmt.Sprintf("write_back[%d].column", i), f.Column, true)
	}
	for i, r := range c.Rules {
		check(fmt.Sprintf("rules[%d].erp", i), r.ERP, r.Expr == "")
	}
	if rules, err := mapping.CompileRules(c.Rules); err != nil {
		errs = append(errs, err)
	} else {
		cols, writable := rules.Columns(), rules.Writable()
		for i, col := range cols {
			if !writable[i] {
				check("rules", col, true)
			}
		}
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
	curExpr string // the cursor column as Changes compares it
	sel     string // the column list of every SELECT
	selIn   string // the same on the inbound table
	// selKnown is sel without the cursor (NULL in its place): the first
	// read of ListKnownItems, which maps no row (a SQLite timestamp cursor
	// is an expression costing a third of the read).
	selKnown string
	nFixed   int // columns before the rule columns
	ruleCol  []string
	stmts    stmtCache
	// writeMu serialises this process's SQLite writes: SQLite has one
	// writer at a time anyway, and a writer that waits here starts the
	// moment the previous one ends, where SQLite's busy handler would
	// sleep and poll. Other processes are still met by the busy timeout.
	writeMu sync.Mutex
	// detected is the schema read from the database (schema.go).
	detected atomic.Pointer[schemaInfo]
	detectMu sync.Mutex
	// advised: the first Changes looked for the index it walks.
	advised sync.Once
	// fingerprint is the configuration's part of every Item.Digest.
	fingerprint uint64
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
	return t.queryIn(ctx, nil, q, args...)
}

// queryIn runs a cached SELECT, inside tx when tx is not nil.
func (t *Table) queryIn(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	st, err := t.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
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
	table, inbound, key, inKey, cursor, deleted string
	flags, writeBack                            []string
	rules                                       []string
}

var (
	_ erp.Adapter          = (*Table)(nil)
	_ erp.Counter          = (*Table)(nil)
	_ erp.KeyLister        = (*Table)(nil)
	_ erp.ItemLister       = (*Table)(nil)
	_ erp.PlatformIDWriter = (*Table)(nil)
	_ erp.BatchUpserter    = (*Table)(nil)
	_ erp.Closer           = (*Table)(nil)
	_ erp.Holder           = (*Table)(nil)
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
	// Learn the key and cursor column types now; a table that does not
	// exist yet (the demo creates it after Open) is read at first use.
	if err := t.CheckSchema(ctx); err != nil && !errors.Is(err, errNoTable) {
		_ = t.Close()
		return nil, fmt.Errorf("sqlerp: open: %w", err)
	}
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
	if cfg.InboundKeyColumn == "" {
		cfg.InboundKeyColumn = cfg.KeyColumn
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlerp: %w", err)
	}
	rules, err := mapping.CompileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Table{db: db, d: d, cfg: cfg, rules: rules, log: log.With("component", "sqlerp"), now: time.Now,
		fingerprint: configFingerprint(cfg)}
	mq := func(id string) string { s, _ := QuoteIdent(id); return s }
	t.q = quoted{table: mq(cfg.Table), inbound: mq(cfg.InboundTable), key: mq(cfg.KeyColumn), inKey: mq(cfg.InboundKeyColumn),
		cursor: mq(cfg.CursorColumn)}
	t.curExpr = t.q.cursor
	if d.Name == "sqlite" && cfg.CursorKind == CursorTimestamp {
		t.curExpr = sqliteTime(t.q.cursor)
	}
	if cfg.DeletedColumn != "" {
		t.q.deleted = mq(cfg.DeletedColumn)
	}
	cols := []string{t.q.key, t.curExpr}
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
	known := slices.Clone(cols)
	known[1] = "NULL"
	t.selKnown = strings.Join(known, ", ")
	cols[0] = t.q.inKey
	t.selIn = strings.Join(cols, ", ")
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

// target is a table a key is looked up in: Table, then a separate
// inbound table.
type target struct {
	table, key string // quoted
	col        keyCol
	sel        string
}

func (t *Table) targetsFor(s *schemaInfo) []target {
	ts := []target{{table: t.q.table, key: t.q.key, col: s.key, sel: t.sel}}
	if t.separateInbound() {
		ts = append(ts, target{table: t.q.inbound, key: t.q.inKey, col: s.inKey, sel: t.selIn})
	}
	return ts
}

type scanner struct {
	t   *Table
	sch *schemaInfo
	// strict (Changes): a cursor value that cannot be ordered is an error.
	strict bool
	fixed  []anyValue
	vals   []sql.NullString
	dest   []any
	strs   []string
	// known (ChangesKnown): a row it reports known is not mapped.
	known func(key string, digest uint64) bool
	buf   []byte // the digest's input, reused
}

type anyValue struct{ v any }

func (a *anyValue) Scan(src any) error {
	if b, ok := src.([]byte); ok {
		src = string(b)
	}
	a.v = src
	return nil
}

func (t *Table) newScanner(sch *schemaInfo, strict bool) *scanner {
	s := &scanner{t: t, sch: sch, strict: strict, fixed: make([]anyValue, t.nFixed), vals: make([]sql.NullString, len(t.ruleCol)),
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

// scan reads one row into an Item and its cursor position. Only a row whose
// cursor cannot be ordered (strict) is an error for the whole call; data
// problems land in Item.Err.
func (s *scanner) scan(rows *sql.Rows) (erp.Item, position, error) {
	if err := rows.Scan(s.dest...); err != nil {
		return erp.Item{}, position{}, classify(err)
	}
	return s.item()
}

// item maps the row scan read.
func (s *scanner) item() (erp.Item, position, error) {
	t := s.t
	key := asString(s.fixed[0].v)
	pos, ok, err := readPosition(s.sch.cur, s.fixed[1].v)
	if s.strict && (err != nil || !ok) {
		if err == nil {
			err = errors.New("holds NULL")
		}
		return erp.Item{}, position{}, apierr.Permanently(&erp.KeyError{Op: "customer", Key: key, Err: fmt.Errorf(
			"cursor column %q %w: the change scan cannot order the row, so it stops here; set the column (to the time of the change)",
			t.cfg.CursorColumn, err)})
	}
	pos.key, pos.keyed = key, true
	digest := s.digest()
	if s.known != nil && key != "" && s.known(key, digest) {
		it := erp.Item{Key: key, Digest: digest, Known: true}
		it.Customer.ERPKey = key
		if ok {
			it.Customer.UpdatedAt = t.updatedAt(s.sch.cur, pos)
		}
		s.writeBacks(&it.Customer)
		return it, pos, nil
	}
	for i := range s.vals {
		s.strs[i] = s.vals[i].String
	}
	c, ferrs := t.rules.Apply(s.strs)
	c.ERPKey = key
	if ok {
		c.UpdatedAt = t.updatedAt(s.sch.cur, pos)
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
	s.writeBacks(&c)
	it := erp.Item{Key: key, Customer: c, Digest: digest}
	// The core check only: each platform checks the fields it receives in
	// its Prepare, and the engine keeps of the rules' field errors those a
	// platform receives (mapping.ValidationError.For).
	if err := mapping.ValidateCore(c); err != nil {
		var ve *mapping.ValidationError
		if errors.As(err, &ve) {
			ve.Fields = append(ferrs, ve.Fields...)
		}
		it.Err = err
	} else if len(ferrs) > 0 && !c.Deleted {
		it.Err = &mapping.ValidationError{Key: key, Fields: ferrs}
	}
	return it, pos, nil
}

// scanDigest reads one row of ListKnownItems' first read: its key and
// digest (the columns are not mapped).
func (s *scanner) scanDigest(rows *sql.Rows) (string, uint64, error) {
	if err := rows.Scan(s.dest...); err != nil {
		return "", 0, classify(err)
	}
	return asString(s.fixed[0].v), s.digest(), nil
}

// firstWriteBack is the index in scanner.fixed of the first write-back
// column: after the key, the cursor, the flags and the deleted column.
func (t *Table) firstWriteBack() int {
	i := 2 + len(t.cfg.Flags)
	if t.q.deleted != "" {
		i++
	}
	return i
}

// writeBacks sets c's platform ids from the row's write-back columns.
func (s *scanner) writeBacks(c *mapping.Customer) {
	i := s.t.firstWriteBack()
	for _, w := range s.t.cfg.WriteBack {
		c.PlatformIDs.Set(w.Platform, asString(s.fixed[i].v))
		i++
	}
}

// digest is the row's erp.Item.Digest: the table's configuration, then the
// key, the flag and deleted columns and the rule columns, each with its type
// and length; not the cursor, which moves when nothing mapped changed (a
// write-back may touch it), nor the write-back columns (the ids the
// connector itself wrote after it read the row).
func (s *scanner) digest() uint64 {
	b := binary.LittleEndian.AppendUint64(s.buf[:0], s.t.fingerprint)
	b = appendValue(b, s.fixed[0].v)
	for i := 2; i < s.t.firstWriteBack(); i++ {
		b = appendValue(b, s.fixed[i].v)
	}
	for _, v := range s.vals {
		if !v.Valid {
			b = append(b, 0)
			continue
		}
		b = appendValue(b, v.String)
	}
	s.buf = b
	return xxhash.Sum64(b)
}

// appendValue appends a column value for a digest: a type tag, then the
// value, strings with their length.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0)
	case string:
		return append(binary.AppendUvarint(append(b, 's'), uint64(len(x))), x...)
	case int64:
		return binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(x))
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, 'f'), math.Float64bits(x))
	case bool:
		if x {
			return append(b, 'b', 1)
		}
		return append(b, 'b', 0)
	case time.Time:
		return appendValue(append(b, 't'), x.Format(time.RFC3339Nano))
	}
	return appendValue(append(b, 'x'), fmt.Sprintf("%T %v", v, v))
}

// configFingerprint is the configuration's part of the items' digests: a
// change of the rules or columns makes every row's digest change, so no
// row is taken as known under another mapping. The DSN is left out (it
// holds credentials and does not change a mapping).
func configFingerprint(cfg Config) uint64 {
	cfg.DSN = ""
	b, err := json.Marshal(cfg)
	if err != nil {
		b = fmt.Appendf(nil, "%#v", cfg)
	}
	return xxhash.Sum64(b)
}

// Get implements erp.Adapter. With a separate inbound table, a key not in
// the table is looked for there (a customer upserted and not yet moved).
func (t *Table) Get(ctx context.Context, key string) (erp.Item, error) {
	sch, err := t.schema(ctx)
	if err != nil {
		return erp.Item{}, fmt.Errorf("sqlerp: get: %w", err)
	}
	return t.getIn(ctx, nil, sch, key)
}

// getIn reads one customer by key, inside tx when tx is not nil.
func (t *Table) getIn(ctx context.Context, tx *sql.Tx, sch *schemaInfo, key string) (erp.Item, error) {
	for _, tg := range sch.targets {
		v, ok := tg.col.arg(key)
		if !ok {
			continue
		}
		it, found, err := t.getFrom(ctx, tx, sch, tg, v)
		if err != nil || found {
			return it, err
		}
	}
	return erp.Item{}, erp.NotFound("sqlerp: get", key)
}

func (t *Table) getFrom(ctx context.Context, tx *sql.Tx, sch *schemaInfo, tg target, key any) (erp.Item, bool, error) {
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s", tg.sel, tg.table, tg.key, t.d.Placeholder(1))
	rows, err := t.queryIn(ctx, tx, q, key)
	if err != nil {
		return erp.Item{}, false, fmt.Errorf("sqlerp: get: %w", classify(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return erp.Item{}, false, fmt.Errorf("sqlerp: get: %w", classify(err))
		}
		return erp.Item{}, false, nil
	}
	it, _, err := t.newScanner(sch, false).scan(rows)
	if err != nil {
		return erp.Item{}, false, fmt.Errorf("sqlerp: get: %w", err)
	}
	return it, true, nil
}

func (t *Table) writeBackColumn(p mapping.Platform) string {
	for i, w := range t.cfg.WriteBack {
		if w.Platform == p {
			return t.q.writeBack[i]
		}
	}
	return ""
}

// findByPlatformID looks for the key of the customer holding a platform
// id, in the table and then in a separate inbound table.
func (t *Table) findByPlatformID(ctx context.Context, tx *sql.Tx, sch *schemaInfo, c mapping.Customer) (string, error) {
	for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
		id, col := c.PlatformIDs.Get(p), t.writeBackColumn(p)
		if id == "" || col == "" {
			continue
		}
		for _, tg := range sch.targets {
			q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s ORDER BY %s LIMIT 1", tg.key, tg.table, col, t.d.Placeholder(1), tg.key)
			st, err := t.prepared(ctx, q)
			if err != nil {
				return "", classify(err)
			}
			var key anyValue
			switch err := tx.StmtContext(ctx, st).QueryRowContext(ctx, id).Scan(&key); {
			case err == nil && key.v != nil:
				return asString(key.v), nil
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return "", classify(err)
			}
		}
	}
	return "", nil
}

// Upsert implements erp.Adapter: the customer goes to the inbound table.
// Flags already set in the ERP are never cleared by an upsert, and
// platform ids are only written when present. A customer without a key
// that no platform id finds gets its key from the inbound key column's
// default (read back with RETURNING), or erp.NewKey for a text key column
// without one. A customer of the table whose key a separate inbound
// table's key column cannot hold (a number the inbound table generates)
// is updated in the table itself, as write-backs are.
func (t *Table) Upsert(ctx context.Context, c mapping.Customer) (string, error) {
	sch, err := t.schema(ctx)
	if err != nil {
		return "", fmt.Errorf("sqlerp: upsert: %w", err)
	}
	defer t.writing()()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("sqlerp: upsert: %w", classify(err))
	}
	defer func() { _ = tx.Rollback() }()
	key, err := t.upsertIn(ctx, tx, sch, c)
	if err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("sqlerp: upsert %q: %w", key, classify(err))
	}
	return key, nil
}

// upsertSavepoint names the savepoint each customer of a batch is written in.
const upsertSavepoint = "erpconnector_upsert"

// UpsertBatch implements erp.BatchUpserter: the upserts in one
// transaction, each inside a savepoint of its own (a customer the
// database refuses is rolled back alone and the others go on), each read
// back in the transaction.
func (t *Table) UpsertBatch(ctx context.Context, cs []mapping.Customer) ([]erp.Upserted, error) {
	out := make([]erp.Upserted, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	sch, err := t.schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: upsert batch: %w", err)
	}
	defer t.writing()()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: upsert batch: %w", classify(err))
	}
	defer func() { _ = tx.Rollback() }()
	for i, c := range cs {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+upsertSavepoint); err != nil {
			return nil, fmt.Errorf("sqlerp: upsert batch: %w", classify(err))
		}
		key, err := t.upsertIn(ctx, tx, sch, c)
		var it erp.Item
		if err == nil {
			if it, err = t.getIn(ctx, tx, sch, key); err != nil {
				err = fmt.Errorf("sqlerp: upsert %q: read it back: %w", key, err)
			}
		}
		end := []string{"RELEASE SAVEPOINT " + upsertSavepoint}
		if err != nil {
			end = append([]string{"ROLLBACK TO SAVEPOINT " + upsertSavepoint}, end...)
			out[i].Err = err
		} else {
			out[i].Key, out[i].Item = key, it
		}
		for _, q := range end {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("sqlerp: upsert batch: %w", classify(err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlerp: upsert batch: %w", classify(err))
	}
	return out, nil
}

// SerialWrites implements erp.BatchUpserter: SQLite takes one writer at a
// time (the table's writers take turns, see writing); PostgreSQL writers
// run side by side.
func (t *Table) SerialWrites() bool { return t.d.Name == "sqlite" }

// upsertIn is one upsert inside tx (see Upsert); it returns the key.
func (t *Table) upsertIn(ctx context.Context, tx *sql.Tx, sch *schemaInfo, c mapping.Customer) (string, error) {
	var err error
	generate := false
	if c.ERPKey == "" {
		if t.d.Name == "postgres" {
			// Two upserts of one platform record must not both create it.
			if id := erp.NewKey(c); id != "" {
				if _, err := t.exec(ctx, tx, "SELECT pg_advisory_xact_lock(hashtext($1))", "erpconnector/sqlerp:"+id); err != nil {
					return "", fmt.Errorf("sqlerp: upsert: %w", classify(err))
				}
			}
		}
		key, err := t.findByPlatformID(ctx, tx, sch, c)
		if err != nil {
			return "", fmt.Errorf("sqlerp: upsert: %w", err)
		}
		switch {
		case key != "":
		case sch.inKey.auto:
			generate = true
		case sch.inKey.textual():
			key = erp.NewKey(c)
		default:
			return "", apierr.Permanently(fmt.Errorf("sqlerp: upsert: inbound key column %q is %s without a default: give it an identity, "+
				"a sequence or another default, so the database numbers customers that come from the platforms", t.cfg.InboundKeyColumn, sch.inKey.typ))
		}
		c.ERPKey = key
	}
	c.Deleted = false
	check := c
	if generate {
		// The database gives the key; validate the rest.
		check.ERPKey = "new"
	}
	// The ERP receives every field the rules map: all of them are checked,
	// but a value the row holds already and the write leaves alone is not
	// the write's doing (mapping.ValidateChange).
	var before *mapping.Customer
	if !generate {
		switch it, err := t.getIn(ctx, tx, sch, c.ERPKey); {
		case err == nil:
			before = &it.Customer
		case !errors.Is(err, erp.ErrNotFound):
			return "", fmt.Errorf("sqlerp: upsert: %w", err)
		}
	}
	if err := mapping.ValidateChange(before, check); err != nil {
		return "", fmt.Errorf("sqlerp: upsert: %w", err)
	}
	// Where the row goes: inserted with a new key, upserted into the
	// inbound table by key, or updated in the table.
	var inKey any
	inTable := false
	if !generate {
		k, ok := sch.inKey.arg(c.ERPKey)
		if !ok && !t.separateInbound() {
			return "", notAKey("sqlerp: upsert", c.ERPKey)
		}
		inKey, inTable = k, !ok
		if ok && t.separateInbound() {
			// A customer of the table is updated there, even when the
			// inbound key column could hold its key too.
			if inTable, err = t.inMainTable(ctx, tx, sch, c.ERPKey); err != nil {
				return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, err)
			}
		}
	}
	type value struct {
		col    string
		arg    any
		sql    string // an SQL expression instead of arg
		update bool   // set on conflict (or in the table)
	}
	var vals []value
	add := func(col string, v any, update bool) { vals = append(vals, value{col: col, arg: v, update: update}) }
	if !generate && !inTable {
		add(t.q.inKey, inKey, false)
	}
	// A rule on a key column is not written.
	seen := map[string]bool{t.q.inKey: true, t.q.key: true}
	writable := t.rules.Writable()
	for i, v := range t.rules.Values(c) {
		col := t.q.rules[i]
		if seen[col] || !writable[i] {
			// A column only expressions read is left alone: a computed
			// field cannot be written back.
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
	if t.q.deleted != "" && !seen[t.q.deleted] {
		seen[t.q.deleted] = true
		add(t.q.deleted, false, true)
	}
	// Touch the change cursor so other ERP consumers see the change.
	if !seen[t.q.cursor] {
		switch into := t.q.inbound; {
		case t.cfg.CursorKind == CursorVersion:
			if inTable {
				into = t.q.table
			}
			vals = append(vals, value{col: t.q.cursor, sql: fmt.Sprintf("(SELECT COALESCE(MAX(%s), 0) + 1 FROM %s)", t.q.cursor, into), update: true})
		case sch.cur == curInt && t.d.Name == "postgres":
			add(t.q.cursor, t.now().Unix(), true)
		case sch.cur == curUnix && t.d.Name == "postgres":
			add(t.q.cursor, float64(t.now().UnixMicro())/1e6, true)
		default:
			add(t.q.cursor, t.now().UTC(), true)
		}
	}
	var cols, exprs, sets []string
	var args []any
	expr := func(v value) string {
		if v.sql != "" {
			return v.sql
		}
		args = append(args, v.arg)
		return t.d.Placeholder(len(args))
	}
	if !inTable {
		for _, v := range vals {
			cols, exprs = append(cols, v.col), append(exprs, expr(v))
			if v.update {
				sets = append(sets, v.col+" = excluded."+v.col)
			}
		}
	}
	switch {
	case generate:
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING %s", t.q.inbound, strings.Join(cols, ", "), strings.Join(exprs, ", "), t.q.inKey)
		st, err := t.prepared(ctx, q)
		if err != nil {
			return "", fmt.Errorf("sqlerp: upsert: %w", classify(err))
		}
		var key anyValue
		if err := tx.StmtContext(ctx, st).QueryRowContext(ctx, args...).Scan(&key); err != nil {
			return "", fmt.Errorf("sqlerp: upsert: insert a new customer: %w", classify(err))
		}
		if c.ERPKey = asString(key.v); c.ERPKey == "" {
			return "", apierr.Permanently(fmt.Errorf("sqlerp: upsert: the inbound key column %q got no value", t.cfg.InboundKeyColumn))
		}
		if t.separateInbound() {
			// A key both tables hold would name two customers.
			clash, err := t.inMainTable(ctx, tx, sch, c.ERPKey)
			if err != nil {
				return "", fmt.Errorf("sqlerp: upsert: %w", err)
			}
			if clash {
				return "", apierr.Permanently(fmt.Errorf("sqlerp: upsert: the database numbered a new customer %q in %s, "+
					"a key %s already holds: the two tables' keys must not overlap (start the inbound key's sequence above the table's keys); nothing was written",
					c.ERPKey, t.cfg.InboundTable, t.cfg.Table))
			}
		}
	case inTable:
		k, ok := sch.key.arg(c.ERPKey)
		if !ok {
			return "", notAKey("sqlerp: upsert", c.ERPKey)
		}
		var upd []string
		for _, v := range vals {
			if v.update {
				upd = append(upd, v.col+" = "+expr(v))
			}
		}
		q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s", t.q.table, strings.Join(upd, ", "), t.q.key, expr(value{arg: k}))
		res, err := t.exec(ctx, tx, q, args...)
		if err != nil {
			return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, classify(err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, classify(err))
		} else if n == 0 {
			return "", notAKey("sqlerp: upsert", c.ERPKey)
		}
	default:
		overriding := ""
		if sch.inKey.always {
			overriding = " OVERRIDING SYSTEM VALUE"
		}
		q := fmt.Sprintf("INSERT INTO %s (%s)%s VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s", t.q.inbound,
			strings.Join(cols, ", "), overriding, strings.Join(exprs, ", "), t.q.inKey, strings.Join(sets, ", "))
		if _, err := t.exec(ctx, tx, q, args...); err != nil {
			return "", fmt.Errorf("sqlerp: upsert %q: %w", c.ERPKey, classify(err))
		}
	}
	t.log.DebugContext(ctx, "upserted customer", "erp_key", c.ERPKey, "new_key", generate, "in_table", inTable)
	return c.ERPKey, nil
}

// update sets columns of the customer with key, in the table or else in a
// separate inbound table.
func (t *Table) update(ctx context.Context, op, key, set string, args ...any) error {
	sch, err := t.schema(ctx)
	if err != nil {
		return fmt.Errorf("sqlerp: %s %q: %w", op, key, err)
	}
	for _, tg := range sch.targets {
		k, ok := tg.col.arg(key)
		if !ok {
			continue
		}
		a := append(slices.Clip(args), k)
		q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = %s", tg.table, set, tg.key, t.d.Placeholder(len(a)))
		release := t.writing()
		res, err := t.exec(ctx, nil, q, a...)
		release()
		if err != nil {
			return fmt.Errorf("sqlerp: %s %q: %w", op, key, classify(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlerp: %s %q: %w", op, key, classify(err))
		}
		if n > 0 {
			return nil
		}
	}
	return erp.NotFound("sqlerp: "+op, key)
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
// transaction, one prepared statement per platform (and table).
func (t *Table) SetPlatformIDs(ctx context.Context, ids []erp.PlatformID) ([]error, error) {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs, nil
	}
	sch, err := t.schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: set platform ids: %w", err)
	}
	defer t.writing()()
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: set platform ids: %w", classify(err))
	}
	defer func() { _ = tx.Rollback() }()
	type update struct {
		sts []*sql.Stmt // per target
		err error       // the platform has no write-back column
	}
	updates := map[mapping.Platform]update{}
	for i, it := range ids {
		u, ok := updates[it.Platform]
		if !ok {
			var col string
			if col, u.err = t.platformColumn("set platform id", it.Platform); u.err == nil {
				for _, tg := range sch.targets {
					q := fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s = %s", tg.table, col, t.d.Placeholder(1), tg.key, t.d.Placeholder(2))
					st, err := t.prepared(ctx, q)
					if err != nil {
						return nil, fmt.Errorf("sqlerp: set platform ids: %w", classify(err))
					}
					u.sts = append(u.sts, tx.StmtContext(ctx, st))
				}
			}
			updates[it.Platform] = u
		}
		if u.err != nil {
			errs[i] = u.err
			continue
		}
		found := false
		for j, tg := range sch.targets {
			k, ok := tg.col.arg(it.Key)
			if !ok {
				continue
			}
			res, err := u.sts[j].ExecContext(ctx, it.ID, k)
			if err != nil {
				return nil, fmt.Errorf("sqlerp: set platform id %q: %w", it.Key, classify(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("sqlerp: set platform id %q: %w", it.Key, classify(err))
			}
			if n > 0 {
				found = true
				break
			}
		}
		if !found {
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

// listQuery selects cols of flagged customers after a key in the
// database's key order ("" is the beginning).
func (t *Table) listQuery(sch *schemaInfo, op, cols, after string, limit int) (string, []any, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	var args []any
	cond := ""
	// A text key keeps "> ''" (as before): a key "" is never listed, so
	// paging after it cannot start over.
	if after != "" || sch.key.textual() {
		k, ok := sch.key.arg(after)
		if !ok {
			return "", nil, apierr.Permanently(fmt.Errorf("sqlerp: %s: %q is not a value of key column %q (%s)", op, after, t.cfg.KeyColumn, sch.key.typ))
		}
		args = append(args, k)
		cond = fmt.Sprintf(" AND %s > %s", t.q.key, t.d.Placeholder(1))
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s%s ORDER BY %s LIMIT %d", cols, t.q.table, t.flagFilter(), cond, t.q.key, limit), args, nil
}

// ListItems implements erp.ItemLister: flagged customers in the database's
// key order.
func (t *Table) ListItems(ctx context.Context, after string, limit int) ([]erp.Item, error) {
	return t.listItems(ctx, after, limit, nil)
}

// ListKnownItems implements erp.KnownLister: ListItems without mapping the
// rows known reports known.
func (t *Table) ListKnownItems(ctx context.Context, after string, limit int, known func(key string, digest uint64) bool) ([]erp.Item, error) {
	return t.listItems(ctx, after, limit, known)
}

func (t *Table) listItems(ctx context.Context, after string, limit int, known func(string, uint64) bool) ([]erp.Item, error) {
	sch, err := t.schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list items: %w", err)
	}
	sel := t.sel
	if known != nil {
		sel = t.selKnown
	}
	q, args, err := t.listQuery(sch, "list items", sel, after, limit)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
	}
	defer rows.Close()
	items := make([]erp.Item, 0, max(limit, 0))
	sc := t.newScanner(sch, false)
	var unknown []string
	for rows.Next() {
		if known == nil {
			it, _, err := sc.scan(rows)
			if err != nil {
				return nil, fmt.Errorf("sqlerp: list items: %w", err)
			}
			items = append(items, it)
			continue
		}
		key, digest, err := sc.scanDigest(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlerp: list items: %w", err)
		}
		if key == "" {
			// A row without a key: mapped here, to be reported unreadable
			// (it cannot be read again by its key).
			it, _, err := sc.item()
			if err != nil {
				return nil, fmt.Errorf("sqlerp: list items: %w", err)
			}
			items = append(items, it)
			continue
		}
		it := erp.Item{Key: key, Digest: digest}
		if known(key, digest) {
			it.Known = true
			it.Customer.ERPKey = key
			sc.writeBacks(&it.Customer)
		} else {
			it.Err = errUnread
			unknown = append(unknown, key) // read whole below
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
	}
	rows.Close()
	if len(unknown) == 0 {
		return items, nil
	}
	return t.readUnknown(ctx, sch, items, unknown)
}

// errUnread marks an item of ListKnownItems' first read that is read
// whole after it.
var errUnread = errors.New("sqlerp: not read yet")

// readUnknown replaces the items of ListKnownItems' first read that known
// did not know by the rows read whole (and mapped), as they are now: one
// changed or unflagged since the first read comes as it is now. The page
// keeps its length, which tells the caller whether more rows follow: a row
// deleted in between stays as a Known item (nothing to do for it in this
// walk; the next one no longer lists it).
func (t *Table) readUnknown(ctx context.Context, sch *schemaInfo, items []erp.Item, unknown []string) ([]erp.Item, error) {
	args := make([]any, 0, len(unknown))
	marks := make([]string, 0, len(unknown))
	for _, k := range unknown {
		v, ok := sch.key.arg(k)
		if !ok {
			continue // not a key value (it was read from the column): cannot happen
		}
		args = append(args, v)
		marks = append(marks, t.d.Placeholder(len(args)))
	}
	whole := make(map[string]erp.Item, len(unknown))
	if len(args) > 0 {
		// The list is padded to a power of two with its last key: a few
		// statements to prepare and cache, not one per count.
		for n := 1 << bits.Len(uint(len(args)-1)); len(args) < n; {
			args = append(args, args[len(args)-1])
			marks = append(marks, t.d.Placeholder(len(args)))
		}
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %s IN (%s)", t.sel, t.q.table, t.q.key, strings.Join(marks, ", "))
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
		}
		defer rows.Close()
		sc := t.newScanner(sch, false)
		for rows.Next() {
			it, _, err := sc.scan(rows)
			if err != nil {
				return nil, fmt.Errorf("sqlerp: list items: %w", err)
			}
			whole[it.Key] = it
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlerp: list items: %w", classify(err))
		}
	}
	out := items[:0]
	for _, it := range items {
		if it.Err == errUnread {
			w, ok := whole[it.Key]
			if !ok {
				it.Err, it.Known = nil, true
				it.Customer.ERPKey = it.Key
				w = it
			}
			it = w
		}
		out = append(out, it)
	}
	return out, nil
}

// ListKeys implements erp.KeyLister: flagged customers' keys in the
// database's key order.
func (t *Table) ListKeys(ctx context.Context, after string, limit int) ([]string, error) {
	sch, err := t.schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list keys: %w", err)
	}
	q, args, err := t.listQuery(sch, "list keys", t.q.key, after, limit)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k anyValue
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
		}
		keys = append(keys, asString(k.v))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlerp: list keys: %w", classify(err))
	}
	return slices.Clip(keys), nil
}

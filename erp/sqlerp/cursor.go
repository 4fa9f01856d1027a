package sqlerp

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
)

// The change cursor.
//
// Changes walk the table in (cursor value, key) order, both compared the
// way the database compares them: PostgreSQL compares its own timestamp,
// timestamptz, date or integer column (and the key column's own type);
// SQLite, whose columns hold whatever they were given, compares a
// timestamp column through sqliteTime, which turns every common notation
// into Unix seconds. Each page starts strictly after the last row of the
// previous one, so rows sharing a timestamp are neither skipped nor
// repeated, and a page that would not advance is an error, never a loop.
//
// The cursor string is opaque to the connector, which stores it. Its
// format is "TAG|VALUE|KEY", the last row's position:
//
//	t|2026-12-01T23:24:13.123456Z|K-1   a native timestamp (RFC 3339, UTC)
//	v|42|K-1                            an integer (row version, or Unix seconds)
//	u|1796167453.123|K-1                Unix seconds as a decimal (SQLite timestamps)
//
// Without its key ("t|2026-12-01T23:24:13Z", "v|41") a cursor is after
// every row whose value is at most VALUE: what ParseCursor makes of a plain
// timestamp or version an operator sets.
//
// The key is the row's key as a string, bound with the key column's type.
// "t" and "v" are what earlier versions wrote; a "t" cursor given to a
// SQLite timestamp table (an earlier version compared the text as stored)
// resumes a millisecond before its time, so a change at the boundary is
// read again rather than missed.

// sqliteTime returns the SQLite expression that reads a timestamp column
// as Unix seconds (a real number, milliseconds significant), whatever the
// column holds: text as 'YYYY-MM-DD HH:MM:SS' (CURRENT_TIMESTAMP), with a
// 'T', fractional seconds, 'Z' or an offset (+02:00 or +0200); Go's
// time.Time.String() notation, which modernc.org/sqlite writes by default
// ("2026-12-01 23:24:13.5 +0000 UTC"); a date alone; or Unix seconds as an
// integer or a real (a real below 5373484.5 is read as a Julian day
// number). Anything else is NULL, which Changes reports as an error.
//
// The expression uses only built-in deterministic functions, so an index
// on it (ChangesIndex) lets Changes seek instead of sorting the table.
func sqliteTime(col string) string {
	const goString = `'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]* [+-][0-9][0-9][0-9][0-9] *'`
	const bareOffset = `'*[0-9 ][+-][0-9][0-9][0-9][0-9]'`
	sp := "instr(substr(@, 12), ' ')" // the space after the time, counted from position 12
	e := "unixepoch(CASE" +
		// "2026-12-01 23:24:13.5 +0000 UTC m=+0.1": date, time and offset, with a colon.
		" WHEN @ GLOB " + goString + " THEN substr(@, 1, 10 + " + sp + ") || substr(@, 12 + " + sp + ", 3) || ':' || substr(@, 15 + " + sp + ", 2)" +
		// "…13+0200": an offset without a colon.
		" WHEN @ GLOB " + bareOffset + " THEN substr(@, 1, length(@) - 2) || ':' || substr(@, -2)" +
		" ELSE @ END, 'auto', 'subsec')"
	return strings.ReplaceAll(e, "@", col)
}

// ChangesIndex returns the CREATE INDEX statement (named name) that lets
// Changes read cfg's table in cursor order without sorting it: on (cursor
// column, key column), or for a SQLite timestamp cursor on the expression
// Changes compares (sqliteTime) and the key column.
func ChangesIndex(cfg Config, name string) (string, error) {
	d, err := DialectFor(cfg.Driver)
	if err != nil {
		return "", err
	}
	schema, table := splitTable(cfg.Table)
	if d.Name == "sqlite" && schema != "" {
		// SQLite qualifies the index, not the table.
		name = schema + "." + name
	} else {
		table = cfg.Table
	}
	qn, err := QuoteIdent(name)
	if err != nil {
		return "", err
	}
	qt, err := QuoteIdent(table)
	if err != nil {
		return "", err
	}
	cur, err := QuoteIdent(cfg.CursorColumn)
	if err != nil {
		return "", err
	}
	key, err := QuoteIdent(cfg.KeyColumn)
	if err != nil {
		return "", err
	}
	if d.Name == "sqlite" && cfg.CursorKind != CursorVersion {
		cur = sqliteTime(cur)
	}
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s)", qn, qt, cur, key), nil
}

// position is a place in (cursor value, key) order.
type position struct {
	ts   time.Time
	ver  int64
	unix float64
	key  string
	// keyed is false for a position after every row whose cursor value is
	// at most the value (an old cursor carried over).
	keyed bool
}

func (t *Table) encodeCursor(rep curRep, p position) string {
	switch rep {
	case curInt:
		return "v|" + strconv.FormatInt(p.ver, 10) + "|" + p.key
	case curUnix:
		return "u|" + strconv.FormatFloat(p.unix, 'f', -1, 64) + "|" + p.key
	}
	return "t|" + p.ts.UTC().Format(time.RFC3339Nano) + "|" + p.key
}

func (t *Table) decodeCursor(s string, sch *schemaInfo) (position, bool, error) {
	if s == "" {
		return position{}, false, nil
	}
	bad := func(why string) error {
		return apierr.Permanently(fmt.Errorf("sqlerp: changes: malformed cursor %q: %s", s, why))
	}
	tag, rest, ok1 := strings.Cut(s, "|")
	val, key, ok2 := strings.Cut(rest, "|")
	if !ok1 {
		return position{}, false, bad("want TAG|VALUE|KEY or TAG|VALUE")
	}
	// TAG|VALUE (no key) is after every row whose value is at most VALUE.
	p := position{key: key, keyed: ok2}
	var err error
	switch {
	case tag == "v" && sch.cur == curInt:
		p.ver, err = strconv.ParseInt(val, 10, 64)
	case tag == "t" && t.cfg.CursorKind == CursorTimestamp && sch.cur != curInt:
		p.ts, err = time.Parse(time.RFC3339Nano, val)
		if err == nil && sch.cur == curUnix {
			// Written when SQLite compared the text as stored: resume a
			// millisecond before it.
			p = position{unix: float64(p.ts.UnixMilli()-1) / 1000}
		}
	case tag == "u" && t.cfg.CursorKind == CursorTimestamp && sch.cur != curInt:
		p.unix, err = strconv.ParseFloat(val, 64)
		if err == nil && (math.IsNaN(p.unix) || math.IsInf(p.unix, 0)) {
			err = fmt.Errorf("not a number")
		}
		if err == nil && sch.cur == curTime {
			p = position{ts: unixTime(p.unix).Add(-time.Millisecond)}
		}
	default:
		return position{}, false, bad(fmt.Sprintf("not a %s cursor of this table", t.cfg.CursorKind))
	}
	if err != nil {
		return position{}, false, bad(err.Error())
	}
	p.ts = p.ts.UTC()
	if p.keyed {
		if _, ok := sch.key.arg(p.key); !ok {
			return position{}, false, bad(fmt.Sprintf("%q is not a value of key column %q (%s)", p.key, sch.key.name, sch.key.typ))
		}
	}
	return p, true, nil
}

// unixTime converts Unix seconds to a time, to the millisecond.
func unixTime(f float64) time.Time { return time.UnixMilli(int64(math.Round(f * 1000))).UTC() }

// valueArg is the bound value of a position's cursor value.
func valueArg(rep curRep, p position) any {
	switch rep {
	case curInt:
		return p.ver
	case curUnix:
		return p.unix
	}
	return p.ts
}

// after reports whether a is strictly after b in (value, key) order, as far
// as Go can tell: the values compare, and equal values need another key
// (keys are ordered by the database's collation, not here).
func after(rep curRep, a, b position) bool {
	var c int
	switch rep {
	case curInt:
		c = cmpOrdered(a.ver, b.ver)
	case curUnix:
		c = cmpOrdered(a.unix, b.unix)
	default:
		c = a.ts.Compare(b.ts)
	}
	switch {
	case c != 0:
		return c > 0
	case !b.keyed:
		return false
	}
	return a.key != b.key
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readPosition reads a row's cursor value; ok is false when the value is
// NULL, and err says why another value cannot be ordered.
func readPosition(rep curRep, v any) (p position, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return p, false, nil
	case int64:
		switch rep {
		case curInt:
			p.ver = x
			return p, true, nil
		case curUnix:
			p.unix = float64(x)
			return p, true, nil
		}
	case float64:
		switch rep {
		case curUnix:
			p.unix = x
			return p, true, nil
		case curInt:
			if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
				p.ver = int64(x)
				return p, true, nil
			}
		}
	case time.Time:
		if rep == curTime {
			p.ts = x.UTC()
			return p, true, nil
		}
	case string:
		if rep == curTime {
			if ts, err := asTime(x); err == nil {
				p.ts = ts
				return p, true, nil
			}
		}
		return p, false, fmt.Errorf("holds %q, which is not %s", x, repName(rep))
	}
	return p, false, fmt.Errorf("holds %v (%T), which is not %s", v, v, repName(rep))
}

func repName(rep curRep) string {
	if rep == curInt {
		return "an integer"
	}
	return "a timestamp"
}

// updatedAt is the customer's change time from its cursor position.
func (t *Table) updatedAt(rep curRep, p position) time.Time {
	if t.cfg.CursorKind != CursorTimestamp {
		return time.Time{}
	}
	switch rep {
	case curUnix:
		return unixTime(p.unix)
	case curInt:
		return time.Unix(p.ver, 0).UTC()
	}
	return p.ts
}

// settleArg is the newest cursor value Changes returns with SettleTime.
func (t *Table) settleArg(rep curRep) any {
	at := t.now().UTC().Add(-t.cfg.SettleTime)
	switch rep {
	case curUnix:
		return float64(at.UnixMilli()) / 1000
	case curInt:
		return at.Unix()
	}
	return at
}

// pageQuery is one SELECT and its arguments.
type pageQuery struct {
	sql  string
	args []any
}

// changesQueries builds the SELECTs of one page of changes: their rows, in
// turn, are the page in (cursor, key) order.
func (t *Table) changesQueries(sch *schemaInfo, p position, has bool, limit int, settle bool) []pageQuery {
	settle = settle && t.cfg.SettleTime > 0 && t.cfg.CursorKind == CursorTimestamp
	filter := "1 = 1"
	if !t.cfg.IncludeUnflagged {
		filter = t.flagFilter()
	}
	e, key := t.curExpr, t.q.key
	build := func(cond func(arg func(any) string) string, order string) pageQuery {
		var q pageQuery
		arg := func(v any) string {
			q.args = append(q.args, v)
			return t.d.Placeholder(len(q.args))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "SELECT %s FROM %s WHERE %s AND %s", t.sel, t.q.table, filter, cond(arg))
		if settle {
			fmt.Fprintf(&b, " AND %s <= %s", e, arg(t.settleArg(sch.cur)))
		}
		fmt.Fprintf(&b, " ORDER BY %s LIMIT %d", order, limit+1)
		q.sql = b.String()
		return q
	}
	both := e + ", " + key
	v := valueArg(sch.cur, p)
	k, _ := sch.key.arg(p.key)
	switch {
	case !has:
		// NULLs cannot be ordered; Changes reports them (unorderable).
		return []pageQuery{build(func(func(any) string) string { return e + " IS NOT NULL" }, both)}
	case !p.keyed:
		return []pageQuery{build(func(arg func(any) string) string { return e + " > " + arg(v) }, both)}
	case e != t.q.cursor:
		// SQLite seeks an index on an expression for = and >, not for a
		// row-value comparison: the rest of the rows at the cursor's
		// value, then the rows after it. Each walks the index in order.
		return []pageQuery{
			build(func(arg func(any) string) string { return e + " = " + arg(v) + " AND " + key + " > " + arg(k) }, key),
			build(func(arg func(any) string) string { return e + " > " + arg(v) }, both),
		}
	}
	// A row-value comparison, so the database walks the (cursor, key)
	// index instead of scanning.
	return []pageQuery{build(func(arg func(any) string) string {
		return "(" + both + ") > (" + arg(v) + ", " + arg(k) + ")"
	}, both)}
}

// Changes implements erp.Adapter.
func (t *Table) Changes(ctx context.Context, cur string, limit int) (erp.Page, error) {
	return t.changes(ctx, cur, limit, nil)
}

// ChangesKnown implements erp.KnownChanger: Changes without mapping the
// rows known reports known.
func (t *Table) ChangesKnown(ctx context.Context, cur string, limit int, known func(key string, digest uint64) bool) (erp.Page, error) {
	return t.changes(ctx, cur, limit, known)
}

func (t *Table) changes(ctx context.Context, cur string, limit int, known func(string, uint64) bool) (erp.Page, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	sch, err := t.schema(ctx)
	if err != nil {
		return erp.Page{}, fmt.Errorf("sqlerp: changes: %w", err)
	}
	from, has, err := t.decodeCursor(cur, sch)
	if err != nil {
		return erp.Page{}, err
	}
	if t.d.Name == "sqlite" && t.cfg.CursorKind == CursorTimestamp {
		t.advised.Do(func() { t.adviseIndex(ctx) })
	}
	page := erp.Page{Cursor: cur}
	prev, hasPrev := from, has
	sc := t.newScanner(sch, true)
	sc.known = known
	for _, q := range t.changesQueries(sch, from, has, limit, true) {
		if page.More {
			break
		}
		if err := t.readChanges(ctx, q, sc, &page, &prev, &hasPrev, limit); err != nil {
			return erp.Page{}, err
		}
	}
	if len(page.Items) > 0 {
		page.Cursor = t.encodeCursor(sch.cur, prev)
	}
	if !page.More {
		// The end of a pass: rows the walk cannot place are an error, once
		// the rows before them are delivered (More makes the caller come
		// back for it).
		if err := t.unorderable(ctx); err != nil {
			if len(page.Items) == 0 {
				return erp.Page{}, err
			}
			page.More = true
		}
	}
	return page, nil
}

// readChanges adds the rows of q to page, up to limit, each strictly
// after prev.
func (t *Table) readChanges(ctx context.Context, q pageQuery, sc *scanner, page *erp.Page, prev *position, hasPrev *bool, limit int) error {
	rows, err := t.query(ctx, q.sql, q.args...)
	if err != nil {
		return fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		if len(page.Items) == limit {
			page.More = true
			break
		}
		it, pos, err := sc.scan(rows)
		if err != nil {
			return fmt.Errorf("sqlerp: changes: %w", err)
		}
		if *hasPrev && !after(sc.sch.cur, pos, *prev) {
			// The database and the cursor disagree on the order: a page
			// that does not advance would be read forever.
			return apierr.Permanently(&erp.KeyError{Op: "sqlerp: changes: customer", Key: pos.key, Err: fmt.Errorf(
				"its position (cursor column %q: %s) is not after %s; the change scan cannot advance",
				t.cfg.CursorColumn, t.encodeCursor(sc.sch.cur, pos), t.encodeCursor(sc.sch.cur, *prev))})
		}
		page.Items = append(page.Items, it)
		*prev, *hasPrev = pos, true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	return nil
}

// unorderable reports a row Changes would return but for its cursor
// value: NULL, or (SQLite) text that is no timestamp.
func (t *Table) unorderable(ctx context.Context) error {
	filter := "1 = 1"
	if !t.cfg.IncludeUnflagged {
		filter = t.flagFilter()
	}
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s AND %s IS NULL ORDER BY %s LIMIT 1", t.q.key, t.q.cursor, t.q.table, filter, t.curExpr, t.q.key)
	rows, err := t.query(ctx, q)
	if err != nil {
		return fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlerp: changes: %w", classify(err))
		}
		return nil
	}
	var key, raw anyValue
	if err := rows.Scan(&key, &raw); err != nil {
		return fmt.Errorf("sqlerp: changes: %w", classify(err))
	}
	what := "NULL"
	if raw.v != nil {
		what = fmt.Sprintf("%q, which is not a timestamp SQLite reads", asString(raw.v))
	}
	return apierr.Permanently(&erp.KeyError{Op: "sqlerp: changes", Key: asString(key.v), Err: fmt.Errorf(
		"cursor column %q holds %s: the change scan cannot order the row, so it stops here; set the column (to the time of the change)",
		t.cfg.CursorColumn, what)})
}

// adviseIndex logs the index a SQLite timestamp cursor needs when the
// table has none: without it every page sorts the flagged rows.
func (t *Table) adviseIndex(ctx context.Context) {
	q := t.changesQueries(&schemaInfo{cur: curUnix}, position{}, false, 1, false)[0]
	rows, err := t.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql)
	if err != nil {
		return
	}
	defer rows.Close()
	sorts := false
	for rows.Next() {
		var id, parent, unused any
		var detail string
		if rows.Scan(&id, &parent, &unused, &detail) == nil && strings.Contains(detail, "TEMP B-TREE FOR ORDER BY") {
			sorts = true
		}
	}
	if !sorts || rows.Err() != nil {
		return
	}
	name := strings.ReplaceAll(t.cfg.Table, ".", "_") + "_" + t.cfg.CursorColumn + "_changes"
	if len(name) > 63 {
		name = name[:63]
	}
	if ix, err := ChangesIndex(t.cfg, name); err == nil {
		t.log.WarnContext(ctx, "the change scan sorts the table on every page: create the index it walks", "table", t.cfg.Table, "sql", ix)
	}
}

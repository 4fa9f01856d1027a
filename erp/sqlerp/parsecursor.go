package sqlerp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/erp"
)

var _ erp.CursorParser = (*Table)(nil)

// ParseCursor implements erp.CursorParser: "" (the beginning); a plain RFC
// 3339 timestamp for a timestamp cursor column, or an integer for a version
// column, from which the next scan reads the rows whose cursor value is that
// value or later; or a cursor of the table's own format (TAG|VALUE|KEY, see
// cursor.go), checked against the table's cursor and key columns.
func (t *Table) ParseCursor(ctx context.Context, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	sch, err := t.schema(ctx)
	if err != nil {
		return "", fmt.Errorf("sqlerp: cursor: %w", err)
	}
	want := `an RFC 3339 timestamp like 2026-12-01T00:00:00Z (or the adapter's own "t|TIME|KEY" or "u|UNIX|KEY")`
	if t.cfg.CursorKind == CursorVersion {
		want = `an integer version (or the adapter's own "v|VERSION|KEY")`
	}
	bad := func(err error) error {
		e := fmt.Errorf("sqlerp: cursor %q: cursor_column %q is a %s cursor: want %s", s, t.cfg.CursorColumn, t.cfg.CursorKind, want)
		if err != nil {
			e = fmt.Errorf("%w: %w", e, err)
		}
		return e
	}
	if strings.Contains(s, "|") {
		if _, _, err := t.decodeCursor(s, sch); err != nil {
			return "", bad(err)
		}
		return s, nil
	}
	if t.cfg.CursorKind == CursorVersion {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", bad(nil)
		}
		if n == -1<<63 {
			return "v|" + strconv.FormatInt(n, 10), nil
		}
		return "v|" + strconv.FormatInt(n-1, 10), nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", bad(nil)
	}
	// A position just before ts, after no row: the rows at ts are read.
	switch sch.cur {
	case curInt:
		return "v|" + strconv.FormatInt(ts.Unix()-1, 10), nil
	case curUnix:
		u := float64(ts.UnixMicro()-1) / 1e6
		return "u|" + strconv.FormatFloat(u, 'f', -1, 64), nil
	}
	return "t|" + ts.Add(-time.Microsecond).UTC().Format(time.RFC3339Nano), nil
}

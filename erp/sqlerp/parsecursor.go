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

// CursorFormats says which values ParseCursor takes, for help texts.
const CursorFormats = `an RFC 3339 timestamp (2026-12-01T00:00:00Z) for a timestamp cursor_column, ` +
	`an integer for a version cursor_column (the next scan reads the rows whose cursor column is that value or later), ` +
	`the adapter's own cursor as "cursor get" prints it (t|TIME|KEY, u|UNIX|KEY, v|VERSION|KEY), or "" to start from the beginning`

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
	if strings.Contains(s, "|") {
		if _, _, err := t.decodeCursor(s, sch); err != nil {
			return "", fmt.Errorf("sqlerp: cursor %q: %w (want %s)", s, err, CursorFormats)
		}
		return s, nil
	}
	bad := func(want string) error {
		return fmt.Errorf("sqlerp: cursor %q: cursor_column %q is a %s cursor: want %s", s, t.cfg.CursorColumn, t.cfg.CursorKind, want)
	}
	if t.cfg.CursorKind == CursorVersion {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", bad(`an integer version (or the adapter's own "v|VERSION|KEY")`)
		}
		if n == -1<<63 {
			return "v|" + strconv.FormatInt(n, 10), nil
		}
		return "v|" + strconv.FormatInt(n-1, 10), nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", bad(`an RFC 3339 timestamp like 2026-12-01T00:00:00Z (or the adapter's own "t|TIME|KEY" or "u|UNIX|KEY")`)
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

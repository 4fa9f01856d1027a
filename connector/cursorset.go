package connector

import (
	"context"
	"fmt"

	"github.com/erpconnector/erpconnector/erp"
)

// CursorHelp documents the values cursor set takes, per cursor.
const CursorHelp = `Cursors and the values "cursor set NAME VALUE" takes:

  erp.new, erp.updates  the ERP change cursors of the new-customer and the
                        update scans. For a SQL ERP: an RFC 3339 timestamp
                        (2026-12-01T00:00:00Z, or with an offset) when
                        cursor_column is a timestamp, or an integer when it
                        is a version (cursor_kind: version); the next scan
                        reads the rows whose cursor column is that value or
                        later. The adapter's own cursor as "cursor get"
                        prints it is taken too (t|TIME|KEY, u|UNIX|KEY,
                        v|VERSION|KEY: the position after the row KEY). For
                        a drop folder only its own cursor. "" starts from the
                        beginning. Anything else is refused.
  one.feed              the ONe feed position: a non-negative integer.`

// erpCursor checks an ERP cursor an operator gives and turns it into the
// adapter's format (erp.CursorParser); an adapter without a parser takes
// the value as it is.
func (c *Connector) erpCursor(ctx context.Context, name, value string) (string, error) {
	p, ok := c.erp.(erp.CursorParser)
	if !ok {
		return value, nil
	}
	v, err := p.ParseCursor(ctx, value)
	if err != nil {
		return "", fmt.Errorf("connector: cursor %s: %w", name, err)
	}
	return v, nil
}

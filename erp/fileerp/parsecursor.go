package fileerp

import (
	"context"
	"fmt"
	"strings"

	"github.com/erpconnector/erpconnector/erp"
)

var _ erp.CursorParser = (*Folder)(nil)

// ParseCursor implements erp.CursorParser: the drop folder's cursor is a
// position in the export files, so it takes only "" (read the inbox from
// its first file) or its own cursor as Changes returned it; a timestamp or
// version means nothing here and is refused.
func (f *Folder) ParseCursor(_ context.Context, s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := decodePos(s); err != nil {
		return "", fmt.Errorf("fileerp: cursor %q: want \"\" (read the inbox from its first file) or the drop folder's own cursor as \"cursor get\" prints it; a timestamp or version means nothing to export files: %w", s, err)
	}
	return s, nil
}

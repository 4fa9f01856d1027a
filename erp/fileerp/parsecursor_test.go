package fileerp

import (
	"context"
	"strings"
	"testing"
)

// TestParseCursor: the drop folder takes "" and its own cursor; a
// timestamp, a version or garbage is refused saying what it takes.
func TestParseCursor(t *testing.T) {
	ctx := context.Background()
	f, err := Open(ctx, demoConfig(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	own := encodePos(position{File: "customers-1.csv", Row: 3})
	for _, ok := range []string{"", own} {
		if got, err := f.ParseCursor(ctx, ok); err != nil || got != ok {
			t.Errorf("%q: %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"2026-12-01T00:00:00Z", "42", "t|2026-12-01T00:00:00Z|K", encodePos(position{File: "../x"})} {
		if _, err := f.ParseCursor(ctx, bad); err == nil || !strings.Contains(err.Error(), "drop folder's own cursor") {
			t.Errorf("%q: %v, want a refusal naming the forms taken", bad, err)
		}
	}
}

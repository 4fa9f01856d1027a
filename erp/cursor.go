package erp

import "context"

// CursorParser is an optional extra: an adapter whose change cursors an
// operator may set by hand (erpconnector cursor set).
type CursorParser interface {
	// ParseCursor turns what an operator gave into a cursor of the adapter
	// (what Changes takes): the adapter's own cursor as Changes returned
	// it, or a plain form the adapter documents; "" is the beginning. A
	// value the adapter cannot use is an error saying which forms it takes.
	ParseCursor(ctx context.Context, s string) (string, error)
}

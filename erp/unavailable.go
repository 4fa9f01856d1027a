package erp

import (
	"context"
	"fmt"

	"github.com/erpconnector/erpconnector/mapping"
)

// Unavailable returns an adapter for an ERP that could not be opened: every
// call fails with an error that wraps err. Commands that read or change
// only the connector's own state (status, dead letters, cursors) use it to
// work while the ERP is down.
func Unavailable(err error) Adapter { return unavailable{err: err} }

type unavailable struct{ err error }

func (u unavailable) fail(op string) error {
	return fmt.Errorf("erp: %s: the ERP is unavailable: %w", op, u.err)
}

func (u unavailable) Changes(context.Context, string, int) (Page, error) {
	return Page{}, u.fail("changes")
}
func (u unavailable) Get(context.Context, string) (Item, error) { return Item{}, u.fail("get") }
func (u unavailable) Upsert(context.Context, mapping.Customer) (string, error) {
	return "", u.fail("upsert")
}
func (u unavailable) SetPlatformID(context.Context, string, mapping.Platform, string) error {
	return u.fail("set platform id")
}
func (u unavailable) Unlink(context.Context, string, mapping.Platform) error {
	return u.fail("unlink")
}
func (u unavailable) MarkDeleted(context.Context, string) error { return u.fail("mark deleted") }

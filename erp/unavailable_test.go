package erp

import (
	"context"
	"errors"
	"testing"

	"github.com/erpconnector/erpconnector/mapping"
)

func TestUnavailableFailsEveryCallWithTheCause(t *testing.T) {
	cause := errors.New("connection refused")
	a := Unavailable(cause)
	ctx := context.Background()
	_, e1 := a.Changes(ctx, "", 10)
	_, e2 := a.Get(ctx, "K1")
	_, e3 := a.Upsert(ctx, mapping.Customer{})
	e4 := a.SetPlatformID(ctx, "K1", mapping.PlatformONe, "id")
	e5 := a.Unlink(ctx, "K1", mapping.PlatformONe)
	e6 := a.MarkDeleted(ctx, "K1")
	for i, err := range []error{e1, e2, e3, e4, e5, e6} {
		if !errors.Is(err, cause) {
			t.Errorf("call %d: %v does not wrap the cause", i+1, err)
		}
	}
}

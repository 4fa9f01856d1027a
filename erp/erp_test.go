package erp

import (
	"errors"
	"strings"
	"testing"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

func TestNotFoundIsPermanentAndNamesTheKey(t *testing.T) {
	err := NotFound("sqlerp: get", "PL-1")
	if !errors.Is(err, ErrNotFound) || apierr.Classify(err) != apierr.Permanent {
		t.Fatalf("%v: class %v", err, apierr.Classify(err))
	}
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "PL-1" {
		t.Fatalf("KeyError: %+v", ke)
	}
	if want := `sqlerp: get "PL-1": erp: customer not found`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	long := NotFound("op", strings.Repeat("k", 200)).Error()
	if len(long) > 150 {
		t.Fatalf("long key not shortened: %d bytes", len(long))
	}
}

func TestNewKey(t *testing.T) {
	for _, tc := range []struct {
		ids  mapping.PlatformIDs
		want string
	}{
		{mapping.PlatformIDs{ONe: "org:1", CustomerAPI: "c1"}, "ONE-org:1"},
		{mapping.PlatformIDs{CustomerAPI: "c1"}, "CUSTOMERAPI-c1"},
		{mapping.PlatformIDs{}, ""},
	} {
		if got := NewKey(mapping.Customer{PlatformIDs: tc.ids}); got != tc.want {
			t.Errorf("NewKey(%+v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

package problem

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestListFindsEveryProblemInATree(t *testing.T) {
	joined := errors.Join(New("table", "is required"), New("rules[3]", "unknown field %q", "nmae"))
	err := errors.Join(fmt.Errorf("sqlerp: %w", joined), fmt.Errorf("driver: %w", errors.New("unknown driver \"x\"")), nil)
	got := Under("erp.sql", err)
	want := []Problem{
		{Path: "erp.sql.table", Message: "is required"},
		{Path: "erp.sql.rules[3]", Message: `unknown field "nmae"`},
		{Path: "erp.sql", Message: `driver: unknown driver "x"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Under = %#v\nwant %#v", got, want)
	}
	if List(nil) != nil {
		t.Fatal("List(nil) is not empty")
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"", "x", "x"}, {"a", "", "a"}, {"a", "b.c", "a.b.c"}, {"flags", "[0].column", "flags[0].column"},
	} {
		if got := Join(c.a, c.b); got != c.want {
			t.Errorf("Join(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestProblemMessage(t *testing.T) {
	if got := New("one.tenant", "must not be empty").Error(); got != "one.tenant: must not be empty" {
		t.Fatalf("Error() = %q", got)
	}
	if got := New("", "whole file").Error(); got != "whole file" {
		t.Fatalf("Error() = %q", got)
	}
}

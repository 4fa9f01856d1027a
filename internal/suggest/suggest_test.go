package suggest

import "testing"

func TestNearest(t *testing.T) {
	cands := []string{"name", "email", "billing.city", "phone"}
	for in, want := range map[string]string{
		"nmae":        "name",
		"EMIAL":       "email",
		"billing.cty": "billing.city",
		"x":           "",
		"completely":  "",
		"":            "",
	} {
		if got := Nearest(in, cands); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

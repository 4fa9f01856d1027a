package customerapitest

import (
	"strings"
	"testing"
)

// foldSamples are runes whose case folding is unusual: orbits of three or
// more (k K U+212A; s S U+017F; σ ς Σ; µ μ Μ; ω Ω U+2126; ǆ ǅ Ǆ), letters
// ToLower and EqualFold treat differently (İ ı ß ẞ), invalid UTF-8 and
// U+FFFD.
var foldSamples = []string{"", "a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "σ", "ς", "Σ", "µ", "μ", "Μ",
	"ω", "Ω", "\u2126", "ǆ", "ǅ", "Ǆ", "İ", "i", "I", "ı", "ß", "ẞ", "ss", "é", "É", "e\u0301", "\xff", "\xfe", "\uFFFD",
	"\x00", "1", " ", "\u0345", "ι", "Ι", "\u1fbe", "θ", "ϑ", "Θ", "\u03f4"}

func checkFold(t *testing.T, a, b string) {
	t.Helper()
	if eq, same := strings.EqualFold(a, b), foldKey(a) == foldKey(b); eq != same {
		t.Errorf("EqualFold(%q, %q) = %v but foldKeys %q and %q", a, b, eq, foldKey(a), foldKey(b))
	}
}

func TestFoldKeyMatchesEqualFold(t *testing.T) {
	words := append([]string(nil), foldSamples...)
	for _, x := range foldSamples[:16] {
		for _, y := range foldSamples[:16] {
			words = append(words, x+y)
		}
	}
	for _, a := range words {
		for _, b := range words {
			checkFold(t, a, b)
		}
	}
	// Where a key of strings.ToLower would go wrong.
	if strings.ToLower("σ") == strings.ToLower("ς") || !strings.EqualFold("σ", "ς") || foldKey("σ") != foldKey("ς") {
		t.Error("σ and ς: EqualFold holds them equal, ToLower does not, foldKey must")
	}
	if strings.ToLower("İ") != strings.ToLower("i") || strings.EqualFold("İ", "i") || foldKey("İ") == foldKey("i") {
		t.Error("İ and i: ToLower makes them equal, EqualFold holds them apart, and foldKey must")
	}
	if foldKey("Owner@Example.COM") != foldKey("owner@example.com") || foldKey("PLAIN") != "PLAIN" {
		t.Error("ASCII keys")
	}
}

func FuzzFoldKey(f *testing.F) {
	for i, a := range foldSamples {
		f.Add(a, foldSamples[(i+1)%len(foldSamples)])
		f.Add(a+"x"+a, strings.ToUpper(a)+"X"+strings.ToLower(a))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkFold(t, a, b)
		checkFold(t, a, strings.ToUpper(a))
		checkFold(t, a, strings.ToLower(b))
	})
}

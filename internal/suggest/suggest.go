// Package suggest names the known name a mistyped one most likely means.
package suggest

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Nearest returns the candidate closest to name by edit distance (case
// ignored; the first of equally close ones), or "" when none is close
// enough to be a likely typo: at most 2 edits, or a third of name's length
// for longer names.
func Nearest(name string, candidates []string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return ""
	}
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(name, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(name)/3) || bestD >= len(name) {
		return ""
	}
	return best
}

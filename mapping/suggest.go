package mapping

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// nearest returns the candidate closest to name by edit distance (case
// ignored), or "" when none is close enough to be a likely typo: at most
// 2 edits, or a third of name's length for longer names.
func nearest(name string, candidates []string) string {
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

// didYouMean is " (did you mean %q?)" for the nearest candidate, or "".
func didYouMean(name string, candidates []string) string {
	if s := nearest(name, candidates); s != "" {
		return " (did you mean \"" + s + "\"?)"
	}
	return ""
}

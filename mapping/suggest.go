package mapping

import "github.com/erpconnector/erpconnector/internal/suggest"

// didYouMean is " (did you mean %q?)" for the nearest candidate, or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest.Nearest(name, candidates); s != "" {
		return " (did you mean \"" + s + "\"?)"
	}
	return ""
}

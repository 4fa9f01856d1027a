package deploy

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// promqlKeywords are the identifiers of PromQL that are not metric names
// when they are not followed by "(".
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
}

// aggregators are the aggregation operators, which may be followed by a
// by or without clause before their "(".
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// labelLists are the keywords followed by a parenthesised list of label
// names, not by an expression.
var labelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression selects, sorted
// and without duplicates. It skips strings, label matchers ({…}), ranges
// and subqueries ([…]), numbers and durations, Grafana variables ($name,
// ${name}), function and aggregation names (an identifier before "("),
// keywords and the label lists of by, without, on, ignoring, group_left and
// group_right.
func metricNames(expr string) []string {
	seen := map[string]bool{}
	rs := []rune(expr)
	n := len(rs)
	isIdentStart := func(r rune) bool { return r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
	isIdent := func(r rune) bool { return isIdentStart(r) || r >= '0' && r <= '9' }
	// skipTo returns the index after the bracket that closes the one at i,
	// stepping over strings.
	skipTo := func(i int, open, close rune) int {
		depth := 0
		for ; i < n; i++ {
			switch r := rs[i]; {
			case r == '"' || r == '\'' || r == '`':
				i = skipString(rs, i) - 1
			case r == open:
				depth++
			case r == close:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return n
	}
	for i := 0; i < n; {
		r := rs[i]
		switch {
		case r == '"' || r == '\'' || r == '`':
			i = skipString(rs, i)
		case r == '{':
			i = skipTo(i, '{', '}')
		case r == '[':
			i = skipTo(i, '[', ']')
		case r == '$':
			i++
			if i < n && rs[i] == '{' {
				i = skipTo(i, '{', '}')
				continue
			}
			for i < n && isIdent(rs[i]) {
				i++
			}
		case r >= '0' && r <= '9' || r == '.':
			for i < n && (isIdent(rs[i]) || rs[i] == '.') {
				i++
			}
		case isIdentStart(r):
			j := i
			for j < n && isIdent(rs[j]) {
				j++
			}
			word := string(rs[i:j])
			k := j
			for k < n && (rs[k] == ' ' || rs[k] == '\t' || rs[k] == '\n' || rs[k] == '\r') {
				k++
			}
			call := k < n && rs[k] == '('
			if aggregators[word] && !call {
				// sum by (…) (…): an aggregation when a clause follows.
				m := k
				for m < n && isIdent(rs[m]) {
					m++
				}
				if next := string(rs[k:m]); next == "by" || next == "without" {
					call = true
				}
			}
			switch {
			case labelLists[word] && call:
				i = skipTo(k, '(', ')')
				continue
			case call, promqlKeywords[word]:
			default:
				seen[word] = true
			}
			i = j
		default:
			i++
		}
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// skipString returns the index after the string literal that starts at i.
func skipString(rs []rune, i int) int {
	quote := rs[i]
	for i++; i < len(rs); i++ {
		if rs[i] == '\\' && quote != '`' {
			i++
			continue
		}
		if rs[i] == quote {
			return i + 1
		}
	}
	return len(rs)
}

// labelValuesMetric returns the selector of a Grafana label_values(selector,
// label) variable query, or the query itself when it is not one.
func labelValuesMetric(q string) string {
	q = strings.TrimSpace(q)
	if !strings.HasPrefix(q, "label_values(") || !strings.HasSuffix(q, ")") {
		return q
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
	if i := strings.LastIndexByte(inner, ','); i >= 0 {
		return inner[:i]
	}
	return "" // label_values(label): no metric
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job=~"erpconnector.*"} == 0`, []string{"up"}},
		{`sum by (job, instance, type) (erpconnector_queue_dead_letters) > 0`, []string{"erpconnector_queue_dead_letters"}},
		{`(time() - erpconnector_last_success_timestamp_seconds{run="feed"} > 900) or (time() - x_total{run="customer_pull"} offset 1h > 3600)`,
			[]string{"erpconnector_last_success_timestamp_seconds", "x_total"}},
		{`histogram_quantile(0.95, sum by (upstream, le) (rate(a_bucket{instance=~"$instance"}[$__rate_interval])))`, []string{"a_bucket"}},
		{`deriv(sum by (job, instance) (q{lane="live"})[30m:1m]) > 0 and on (job, instance) (r offset 15m)`, []string{"q", "r"}},
		{`a / on (x) group_left (y, z) b * 1e3 + 0.5 - inf`, []string{"a", "b"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)") unless ignoring (le) n`, []string{"m", "n"}},
		{`sum(rate(c[5m])) without (pod) / ${scale}`, []string{"c"}},
		{`min_over_time(erpconnector_queue_breaker_state[5m]) >= 1`, []string{"erpconnector_queue_breaker_state"}},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
	if got := labelValuesMetric("label_values(erpconnector_ready, instance)"); got != "erpconnector_ready" {
		t.Errorf("labelValuesMetric = %q", got)
	}
}

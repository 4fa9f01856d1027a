package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/internal/problem"
	"go.yaml.in/yaml/v3"
)

// Redacted returns the effective configuration as YAML with every secret
// (API keys, passwords, tokens, a DSN's password) replaced by [REDACTED];
// empty secrets stay empty. Sections that are off or unused (a platform
// left out, the other ERP adapter's section) are left out.
func (f File) Redacted() string { return render(f.node(), false) }

// node is the redacted tree of the file; the reference section is left
// out while it is off.
func (f File) node() *yaml.Node {
	n := redactedNode(reflect.ValueOf(f), "", false)
	if !f.Reference.Enabled {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "reference" {
				n.Content = append(n.Content[:i], n.Content[i+2:]...)
				break
			}
		}
	}
	return n
}

// String returns Redacted, so printing a File never shows a secret.
func (f File) String() string { return f.Redacted() }

// GoString returns Redacted too (for %#v).
func (f File) GoString() string { return f.Redacted() }

// LogValue logs the redacted configuration.
func (f File) LogValue() slog.Value { return slog.StringValue(f.Redacted()) }

// MarshalJSON encodes the redacted configuration.
func (f File) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(f), "", false))
}

// section renders a configuration section in one line of flow YAML, redacted.
func section(v any, prefix string) string {
	return render(redactedNode(reflect.ValueOf(v), prefix, false), true)
}

// String prints the section redacted.
func (a Admin) String() string { return section(a, "admin") }

// GoString prints the section redacted.
func (a Admin) GoString() string { return a.String() }

// LogValue logs the section redacted.
func (a Admin) LogValue() slog.Value { return slog.StringValue(a.String()) }

// MarshalJSON encodes the section redacted.
func (a Admin) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(a), "admin", false))
}

// String prints the section redacted.
func (o ONe) String() string { return section(o, "one") }

// GoString prints the section redacted.
func (o ONe) GoString() string { return o.String() }

// LogValue logs the section redacted.
func (o ONe) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalJSON encodes the section redacted.
func (o ONe) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(o), "one", false))
}

// String prints the section redacted.
func (c CustomerAPI) String() string { return section(c, "customer_api") }

// GoString prints the section redacted.
func (c CustomerAPI) GoString() string { return c.String() }

// LogValue logs the section redacted.
func (c CustomerAPI) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the section redacted.
func (c CustomerAPI) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(c), "customer_api", false))
}

// String prints the section redacted.
func (e ERP) String() string { return section(e, "erp") }

// GoString prints the section redacted.
func (e ERP) GoString() string { return e.String() }

// LogValue logs the section redacted.
func (e ERP) LogValue() slog.Value { return slog.StringValue(e.String()) }

// MarshalJSON encodes the section redacted.
func (e ERP) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(e), "erp", false))
}

// String prints the section redacted.
func (s SQL) String() string { return section(s, "erp.sql") }

// GoString prints the section redacted.
func (s SQL) GoString() string { return s.String() }

// LogValue logs the section redacted.
func (s SQL) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the section redacted.
func (s SQL) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(s), "erp.sql", false))
}

// String prints the section redacted.
func (r Reference) String() string { return section(r, "reference") }

// GoString prints the section redacted.
func (r Reference) GoString() string { return r.String() }

// LogValue logs the section redacted.
func (r Reference) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON encodes the section redacted.
func (r Reference) MarshalJSON() ([]byte, error) {
	return nodeJSON(redactedNode(reflect.ValueOf(r), "reference", false))
}

// redactedNode builds the YAML node of a value, in field order, with the
// secrets under prefix redacted. Inside lists (omitEmpty) empty fields are
// left out.
func redactedNode(v reflect.Value, prefix string, omitEmpty bool) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	addFields(m, v, prefix, omitEmpty)
	return m
}

func addFields(m *yaml.Node, v reflect.Value, prefix string, omitEmpty bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, squash := fieldName(sf)
		fv := v.Field(i)
		if squash {
			addFields(m, fv, prefix, omitEmpty)
			continue
		}
		if name == "-" {
			continue
		}
		path := problem.Join(prefix, name)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if fv.IsZero() && (omitEmpty || (fv.Kind() == reflect.Struct && fv.Type() != durationType)) {
			continue // an empty field of a list item, or a section not used (erp.files with the sql adapter)
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, valueNode(fv, path))
	}
}

func valueNode(v reflect.Value, path string) *yaml.Node {
	if isSecret(path) && v.Kind() == reflect.String {
		s := v.String()
		if path == "erp.sql.dsn" {
			s = RedactDSN(s)
		} else if s != "" {
			s = Redaction
		}
		return scalar(s)
	}
	switch {
	case v.Type() == durationType:
		return scalar(formatDuration(time.Duration(v.Int())))
	case v.Kind() == reflect.Struct:
		return redactedNode(v, path, false)
	case v.Kind() == reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Type().Elem().Kind() != reflect.Struct {
			seq.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() == reflect.Struct {
				item := redactedNode(e, fmt.Sprintf("%s[%d]", path, i), true)
				item.Style = yaml.FlowStyle
				seq.Content = append(seq.Content, item)
			} else {
				seq.Content = append(seq.Content, valueNode(e, fmt.Sprintf("%s[%d]", path, i)))
			}
		}
		return seq
	case v.Kind() == reflect.String:
		return scalar(v.String())
	case v.Kind() == reflect.Bool:
		return plain(strconv.FormatBool(v.Bool()))
	case v.CanInt():
		return plain(strconv.FormatInt(v.Int(), 10))
	case v.CanUint():
		return plain(strconv.FormatUint(v.Uint(), 10))
	case v.CanFloat():
		x := v.Float()
		switch {
		case math.IsNaN(x):
			return plain(".nan")
		case math.IsInf(x, 1):
			return plain(".inf")
		case math.IsInf(x, -1):
			return plain("-.inf")
		}
		return plain(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return scalar(fmt.Sprint(v.Interface()))
}

// scalar is a string node; the encoder quotes it where YAML would read it
// as something else.
// formatDuration prints a duration without trailing zero units ("2m", not "2m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// plain is a number or boolean node.
func plain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

func render(n *yaml.Node, flow bool) string {
	if flow {
		n.Style = yaml.FlowStyle
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "config: cannot render configuration"
	}
	_ = enc.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

func nodeJSON(n *yaml.Node) ([]byte, error) {
	var x any
	if err := n.Decode(&x); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return json.Marshal(x)
}

var reKVPassword = regexp.MustCompile(`(?i)(\b(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// RedactDSN hides the password of a DSN: the password of a URL
// (postgres://user:pw@host/db) and password= parameters (in a URL query or
// a key=value DSN). A URL that does not parse is redacted whole.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if !strings.Contains(dsn, "://") {
		return reKVPassword.ReplaceAllString(dsn, "${1}"+Redaction)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return Redaction
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(url.User(u.User.Username()).String())
		if _, ok := u.User.Password(); ok {
			b.WriteString(":" + Redaction)
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			key, err := url.QueryUnescape(k)
			if err != nil || strings.Contains(strings.ToLower(key), "password") {
				parts[i] = k + "=" + Redaction
			}
		}
		b.WriteString("?" + strings.Join(parts, "&"))
	}
	if u.Fragment != "" {
		b.WriteString("#" + Redaction)
	}
	return b.String()
}

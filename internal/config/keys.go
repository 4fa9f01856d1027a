package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Key describes one configuration key, for the documentation and the
// `config` commands.
type Key struct {
	// Path is the key's dotted path, e.g. one.api_key.
	Path string
	// Env is the environment variable that overrides it, e.g. ERPCONNECTOR_ONE_API_KEY.
	Env string
	// Type is string, int, number, bool, duration, list of strings or list
	// (a YAML list of objects; in the environment a YAML flow list such as
	// [{group: farm, owner: platform}]).
	Type string
	// Default is the default value as text ("" when there is none).
	Default string
	// Secret marks keys whose values are redacted.
	Secret bool
}

// isSecret reports whether a key's value never appears in printed configuration.
func isSecret(path string) bool {
	switch path {
	case "admin.token", "one.api_key", "customer_api.password", "customer_api.api_token",
		"reference.one_api_key", "reference.customer_password",
		"erp.sql.dsn": // only a DSN's password is redacted
		return true
	}
	return false
}

// secretFile is a *_file key and the secret key it fills.
type secretFile struct{ file, secret string }

// secretFiles lists the *_file keys in file order.
func secretFiles() []secretFile {
	return []secretFile{
		{"admin.token_file", "admin.token"},
		{"one.api_key_file", "one.api_key"},
		{"customer_api.password_file", "customer_api.password"},
		{"customer_api.api_token_file", "customer_api.api_token"},
		{"erp.sql.dsn_file", "erp.sql.dsn"},
	}
}

// SecretFileKeys lists the keys that name a file holding a secret.
func SecretFileKeys() []string {
	var out []string
	for _, s := range secretFiles() {
		out = append(out, s.file)
	}
	return out
}

var durationType = reflect.TypeFor[time.Duration]()

// fieldName returns the mapstructure key of a struct field and whether the
// field is squashed into its parent.
func fieldName(sf reflect.StructField) (name string, squash bool) {
	tag := sf.Tag.Get("mapstructure")
	name, opts, _ := strings.Cut(tag, ",")
	for o := range strings.SplitSeq(opts, ",") {
		if o == "squash" {
			return "", true
		}
	}
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, false
}

// walk calls fn for every leaf key under v (a struct value) in field order.
// Nil pointers to structs are walked as zero values.
func walk(v reflect.Value, prefix string, fn func(path string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, squash := fieldName(sf)
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if squash {
			walk(fv, prefix, fn)
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct {
			if fv.IsNil() {
				fv = reflect.New(fv.Type().Elem()).Elem()
			} else {
				fv = fv.Elem()
			}
		}
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			walk(fv, path, fn)
			continue
		}
		fn(path, fv)
	}
}

// envName returns the environment variable of a key path.
func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "int"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list of strings"
	case t.Kind() == reflect.Slice:
		return "list"
	}
	return "string"
}

// leafTypes maps every key path to its Go type.
func leafTypes() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	walk(reflect.ValueOf(File{}), "", func(path string, v reflect.Value) { m[path] = v.Type() })
	return m
}

// Keys lists every configuration key in file order, with its environment
// variable, type and default.
func Keys() []Key {
	f := File{ONe: &ONe{}, CustomerAPI: &CustomerAPI{}}
	f.applyDefaults()
	var out []Key
	walk(reflect.ValueOf(f), "", func(path string, v reflect.Value) {
		k := Key{Path: path, Env: envName(path), Type: typeName(v.Type()), Secret: isSecret(path)}
		if d, ok := viperDefaults()[path]; ok {
			k.Default = d
		} else if !v.IsZero() {
			k.Default = formatValue(v)
		}
		out = append(out, k)
	})
	return out
}

// formatValue renders a leaf value as text.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String {
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = v.Index(i).String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/viper"

	"github.com/erpconnector/erpconnector/internal/suggest"
)

// reference matches what a value may refer to: ${NAME}, ${NAME:-default}
// and the escape $${, which stands for a literal ${.
var reference = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

// interpolate replaces ${NAME} and ${NAME:-default} in every string value
// of v (the file's values and the environment overrides, lists and their
// entries included) with the environment variable NAME from env, or the
// default when NAME is unset or empty. A reference to an unset variable
// without a default, or a ${ that is not a reference, is a problem at the
// key's path. Values are never quoted in a problem: they may be secrets.
func interpolate(v *viper.Viper, env []string, types map[string]reflect.Type) []Problem {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		if name, val, ok := strings.Cut(kv, "="); ok {
			vars[name] = val
		}
	}
	var probs []Problem
	keys := v.AllKeys()
	sort.Strings(keys)
	for _, key := range keys {
		val := v.Get(key)
		out, changed := expandValue(val, key, vars, &probs)
		if !changed {
			continue
		}
		// A reference in a number, duration or boolean key gives text:
		// read it as the key's type, as an environment override is.
		if text, ok := out.(string); ok && types[key] != nil && types[key].Kind() != reflect.String {
			typed, err := envValue(types[key], text)
			if err != nil {
				probs = append(probs, Problem{Path: key, Message: err.Error()})
				continue
			}
			out = typed
		}
		v.Set(key, out)
	}
	return probs
}

// expandValue expands the references in val (a string, or a list or map
// holding strings) at path; changed reports whether anything was replaced.
func expandValue(val any, path string, vars map[string]string, probs *[]Problem) (any, bool) {
	switch x := val.(type) {
	case string:
		return expandString(x, path, vars, probs)
	case []any:
		out, changed := make([]any, len(x)), false
		for i, e := range x {
			var c bool
			out[i], c = expandValue(e, fmt.Sprintf("%s[%d]", path, i), vars, probs)
			changed = changed || c
		}
		return out, changed
	case []string:
		list := make([]any, len(x))
		for i, e := range x {
			list[i] = e
		}
		return expandValue(list, path, vars, probs)
	case map[string]any:
		out, changed := make(map[string]any, len(x)), false
		for k, e := range x {
			var c bool
			out[k], c = expandValue(e, path+"."+k, vars, probs)
			changed = changed || c
		}
		return out, changed
	}
	return val, false
}

// expandString expands the references of one string value.
func expandString(s, path string, vars map[string]string, probs *[]Problem) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, false
	}
	if strings.Contains(reference.ReplaceAllString(s, ""), "${") {
		*probs = append(*probs, Problem{Path: path, Message: "holds a ${ that is not a reference " +
			"(want ${NAME} or ${NAME:-default}; write $${ for a literal ${)"})
		return s, false
	}
	out := reference.ReplaceAllStringFunc(s, func(ref string) string {
		if ref == "$${" {
			return "${"
		}
		m := reference.FindStringSubmatch(ref)
		name, def := m[1], m[2]
		if val := vars[name]; val != "" {
			return val
		}
		if !strings.Contains(ref, ":-") {
			*probs = append(*probs, Problem{Path: path, Message: fmt.Sprintf("refers to the environment variable %s, which is not set "+
				"(set it, or give a default: ${%s:-value})", name, name)})
		}
		return def
	})
	return out, true
}

// NearestEnv returns the environment variable of a configuration key that
// name most likely misspells (ERPCONNECTOR_ONE_API_KYE →
// ERPCONNECTOR_ONE_API_KEY), or "" when none is close (suggest.Nearest,
// on the names after the prefix).
func NearestEnv(name string) string {
	var keys []string
	for path := range leafTypes() {
		keys = append(keys, strings.TrimPrefix(envName(path), EnvPrefix))
	}
	sort.Strings(keys)
	if k := suggest.Nearest(strings.TrimPrefix(name, EnvPrefix), keys); k != "" {
		return EnvPrefix + k
	}
	return ""
}

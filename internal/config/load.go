package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/internal/problem"
	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path (YAML), applies the environment
// overrides found in env (entries "NAME=value", as os.Environ returns them;
// the process environment is never read here), decodes strictly, reads the
// *_file secrets, resolves relative paths against the file's directory and
// fills in the defaults. An empty path loads from the environment alone,
// with relative paths left relative to the working directory.
//
// Every decoding problem is reported at once in an *Error, each with its
// key path. Load does not validate: call Validate (or LoadValid).
func Load(path string, env []string) (*File, error) {
	var data []byte
	dir := "."
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: load: %w", err)
		}
		data, dir = b, filepath.Dir(path)
	}
	f, err := load(data, dir, env)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	f.path = path
	return f, nil
}

// LoadValid is Load followed by Validate: it returns the configuration only
// when it is usable (a reload keeps the old one otherwise).
func LoadValid(path string, env []string) (*File, error) {
	f, err := Load(path, env)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// load decodes YAML data; dir is the directory relative paths resolve against.
func load(data []byte, dir string, env []string) (f *File, err error) {
	defer func() {
		// The loader must never take the daemon down on a malformed file.
		if r := recover(); r != nil {
			f, err = nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("cannot decode the configuration: %v", r)}}}
		}
	}()
	v := viper.New()
	v.SetConfigType("yaml")
	for k, d := range viperDefaults() {
		v.SetDefault(k, d)
	}
	var probs []Problem
	if len(bytes.TrimSpace(data)) > 0 {
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, &Error{Problems: []Problem{{Message: "cannot parse YAML: " + yamlMessage(err)}}}
		}
	}
	types := leafTypes()
	byEnv := make(map[string]string, len(types))
	for p := range types {
		byEnv[envName(p)] = p
	}
	var unknown []string
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		path, ok := byEnv[name]
		if !ok {
			if name != EnvConfigFile && name != EnvDataDir && !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
			continue
		}
		value, err := envValue(types[path], val)
		if err != nil {
			probs = append(probs, Problem{Path: path, Message: fmt.Sprintf("environment variable %s: %v", name, err)})
			continue
		}
		v.Set(path, value)
	}
	slices.Sort(unknown)
	// A reference that cannot be resolved does not stop the decoding: the
	// file's other problems are listed with it.
	refProbs := interpolate(v, env, types)

	f = &File{}
	if err := v.UnmarshalExact(f, strictDecoding); err != nil {
		dp := decodeProblems(err)
		probs = append(probs, dp...)
		// The decoder leaves out a whole section with one bad key in it:
		// decode once more without the keys that failed, so that what the
		// other keys break is found in this pass too.
		if rest, ok := decodeWithout(v.AllSettings(), dp); ok {
			f = rest
		}
	}
	probs = append(probs, refProbs...)
	probs = append(probs, f.readSecretFiles(dir)...)
	f.applyDefaults()
	f.resolvePaths(dir)
	f.unknownEnv = unknown
	if len(probs) == 0 {
		return f, nil
	}
	// Every problem of the file in one pass: what the keys that decoded
	// break is listed with what did not decode (the keys that did not,
	// and the keys a missing secret file leaves empty, are not reported
	// twice).
	var ce *Error
	if err := f.Validate(); errors.As(err, &ce) {
		for _, p := range ce.Problems {
			if !coveredBy(p.Path, probs) {
				probs = append(probs, p)
			}
		}
	}
	return nil, scrub(&Error{Problems: sortProblems(probs)}, v)
}

// decodeWithout decodes settings (viper's nested maps) as a File, leaving
// out the keys of probs; ok is false when that does not decode either.
func decodeWithout(settings map[string]any, probs []Problem) (*File, bool) {
	for _, p := range probs {
		if p.Path != "" {
			dropKey(settings, p.Path)
		}
	}
	f := &File{}
	cfg := &mapstructure.DecoderConfig{Result: f, TagName: "mapstructure"}
	strictDecoding(cfg)
	d, err := mapstructure.NewDecoder(cfg)
	if err != nil {
		return nil, false
	}
	if err := d.Decode(settings); err != nil {
		return nil, false
	}
	return f, true
}

// reSegment matches one segment of a key path: a name, or a list index.
var reSegment = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// dropKey removes the key at path (e.g. one.upstream.rate, ownership[1])
// from nested settings; a list entry becomes an empty entry, so the
// indices of the others stay as the file has them.
func dropKey(settings map[string]any, path string) {
	segs := reSegment.FindAllString(path, -1)
	var cur any = settings
	for i, seg := range segs {
		last := i == len(segs)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				delete(c, seg)
				return
			}
			cur = c[seg]
		case []any:
			n, err := strconv.Atoi(strings.Trim(seg, "[]"))
			if err != nil || n < 0 || n >= len(c) {
				return
			}
			if last {
				c[n] = map[string]any{}
				return
			}
			cur = c[n]
		default:
			return
		}
	}
}

// coveredBy reports whether a problem at path repeats one of probs: the
// same key, a key under it or above it (a section with a key that did not
// decode), or the key a failing *_file key fills.
func coveredBy(path string, probs []Problem) bool {
	under := func(a, b string) bool { return strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") }
	for _, p := range probs {
		for _, k := range []string{p.Path, strings.TrimSuffix(p.Path, "_file")} {
			if k != "" && (path == k || under(path, k) || (path != "" && under(k, path))) {
				return true
			}
		}
	}
	return false
}

// strictDecoding turns viper's weak typing off and decodes durations strictly.
func strictDecoding(c *mapstructure.DecoderConfig) {
	c.WeaklyTypedInput = false
	c.DecodeHook = mapstructure.ComposeDecodeHookFunc(durationHook, wholeNumberHook)
}

// wholeNumberHook refuses a fraction where an integer is expected (the
// decoder would silently truncate 4.5 to 4).
func wholeNumberHook(from, to reflect.Type, data any) (any, error) {
	if (from.Kind() != reflect.Float32 && from.Kind() != reflect.Float64) || to == durationType {
		return data, nil
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if x := reflect.ValueOf(data).Float(); x != math.Trunc(x) || math.IsInf(x, 0) {
			return nil, errors.New("must be a whole number")
		}
	}
	return data, nil
}

// durationHook decodes "30s"-style strings into durations and refuses bare
// numbers (other than 0), which would otherwise silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	rv := reflect.ValueOf(data)
	switch from.Kind() {
	case reflect.String:
		d, err := time.ParseDuration(rv.String())
		if err != nil {
			return nil, errors.New("not a duration (want e.g. 30s, 2m or 1h30m)")
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if rv.IsZero() {
			return time.Duration(0), nil
		}
		return nil, errors.New("a duration needs a unit (want e.g. 30s, 2m or 1h30m)")
	}
	return data, nil
}

// envValue converts an environment value to the type of its key.
func envValue(t reflect.Type, s string) (any, error) {
	switch {
	case t == durationType:
		if s == "" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, errors.New("not a duration (want e.g. 30s, 2m or 1h30m)")
		}
		return d, nil
	case t.Kind() == reflect.Bool:
		if s == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("not a boolean (want true or false)")
		}
		return b, nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("not an integer")
		}
		return n, nil
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		if s == "" {
			return uint64(0), nil
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, errors.New("not a non-negative integer")
		}
		return n, nil
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if s == "" {
			return 0.0, nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("not a number")
		}
		return x, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		out := []any{}
		if strings.TrimSpace(s) == "" {
			return out, nil
		}
		for p := range strings.SplitSeq(s, ",") {
			out = append(out, strings.TrimSpace(p))
		}
		return out, nil
	case t.Kind() == reflect.Slice:
		var x any
		if err := yaml.Unmarshal([]byte(s), &x); err != nil {
			return nil, errors.New("not a YAML list (want e.g. [{group: farm, owner: platform}])")
		}
		if x == nil {
			return []any{}, nil
		}
		if _, ok := x.([]any); !ok {
			return nil, errors.New("not a YAML list (want e.g. [{group: farm, owner: platform}])")
		}
		return x, nil
	}
	return s, nil
}

// removedKeys are keys earlier versions accepted, with what to do now.
var removedKeys = map[string]string{
	"erp.upstream": "removed: erp.upstream.workers never limited anything (ERP writes run on the delivery " +
		"workers of the platform that causes them, one.upstream.workers and customer_api.upstream.workers); delete the key",
}

// decodeProblems turns mapstructure's joined errors into problems with
// full key paths ("one.api_kye: unknown key").
func decodeProblems(err error) []Problem {
	var out []Problem
	// viper wraps the decoder's joined errors once ("decoding failed ...").
	if _, isDecode := err.(*mapstructure.DecodeError); !isDecode {
		if u := errors.Unwrap(err); u != nil {
			err = u
		}
	}
	for _, e := range flatten(err) {
		var de *mapstructure.DecodeError
		if !errors.As(e, &de) {
			out = append(out, Problem{Message: e.Error()})
			continue
		}
		name, msg := de.Name(), de.Unwrap().Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for k := range strings.SplitSeq(keys, ", ") {
				path := problem.Join(name, k)
				msg := "unknown key"
				if why, ok := removedKeys[path]; ok {
					msg = why
				}
				out = append(out, Problem{Path: path, Message: msg})
			}
			continue
		}
		out = append(out, Problem{Path: name, Message: friendlier(msg)})
	}
	return out
}

// friendlier rewords mapstructure's type errors.
func friendlier(msg string) string {
	const pre = "expected type '"
	if rest, ok := strings.CutPrefix(msg, pre); ok {
		want, got, ok := strings.Cut(rest, "', got unconvertible type '")
		if ok {
			got = strings.TrimSuffix(got, "'")
			return fmt.Sprintf("wrong type: want %s, got %s (quote text values in YAML)", typeWord(want), typeWord(got))
		}
	}
	if got, ok := strings.CutPrefix(msg, "source data must be an array or slice, got "); ok {
		return fmt.Sprintf("wrong type: want a list, got %s", typeWord(got))
	}
	if got, ok := strings.CutPrefix(msg, "expected a map or struct, got "); ok {
		return fmt.Sprintf("wrong type: want a mapping, got %s", typeWord(strings.Trim(got, `"`)))
	}
	if strings.HasPrefix(msg, "cannot parse value as ") {
		if _, after, ok := strings.Cut(msg, ": "); ok {
			return after
		}
	}
	return msg
}

func typeWord(t string) string {
	switch {
	case t == "string" || t == "mapping.Platform":
		return "text"
	case t == "map" || strings.HasPrefix(t, "map["):
		return "a mapping"
	case t == "slice":
		return "a list"
	case t == "time.Duration":
		return "a duration"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return t
}

// flatten returns the leaves of a tree of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// reQuoted matches the excerpts of the document a YAML error quotes.
var reQuoted = regexp.MustCompile("`[^`]*`")

// yamlMessage keeps the parser's message without viper's wrapping and
// without the excerpts of the document it quotes (a secret file given as
// the configuration by mistake must not be printed).
func yamlMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "yaml: "); i >= 0 {
		msg = msg[i:]
	}
	return strings.Join(strings.Fields(reQuoted.ReplaceAllString(msg, "`…`")), " ")
}

// scrub removes the values of secret keys from problem messages (no
// decoder message is expected to quote a value, but a secret must never
// leave through an error).
func scrub(e *Error, v *viper.Viper) *Error {
	var secrets []string
	for k := range leafTypes() {
		if !isSecret(k) {
			continue
		}
		if s, ok := v.Get(k).(string); ok && len(s) >= 3 {
			secrets = append(secrets, s)
		}
	}
	for i := range e.Problems {
		for _, s := range secrets {
			e.Problems[i].Message = strings.ReplaceAll(e.Problems[i].Message, s, Redaction)
		}
	}
	return e
}

// secretRef is one *_file key with the secret it fills.
type secretRef struct {
	filePath, secretPath string
	file, secret         *string
}

func (f *File) secretRefs() []secretRef {
	refs := []secretRef{{"admin.token_file", "admin.token", &f.Admin.TokenFile, &f.Admin.Token}}
	if f.ONe != nil {
		refs = append(refs, secretRef{"one.api_key_file", "one.api_key", &f.ONe.APIKeyFile, &f.ONe.APIKey})
	}
	if ca := f.CustomerAPI; ca != nil {
		refs = append(refs,
			secretRef{"customer_api.password_file", "customer_api.password", &ca.PasswordFile, &ca.Password},
			secretRef{"customer_api.api_token_file", "customer_api.api_token", &ca.APITokenFile, &ca.APIToken})
	}
	return append(refs, secretRef{"erp.sql.dsn_file", "erp.sql.dsn", &f.ERP.SQL.DSNFile, &f.ERP.SQL.DSN})
}

// readSecretFiles resolves the *_file paths and reads them into their secrets.
func (f *File) readSecretFiles(dir string) []Problem {
	var probs []Problem
	for _, r := range f.secretRefs() {
		if *r.file == "" {
			continue
		}
		if *r.secret != "" {
			probs = append(probs, Problem{Path: r.filePath, Message: fmt.Sprintf("set both %s and %s; set one", r.secretPath, r.filePath)})
			continue
		}
		*r.file = resolve(dir, *r.file)
		b, err := readSmall(*r.file)
		if err != nil {
			probs = append(probs, Problem{Path: r.filePath, Message: fileError(err)})
			continue
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			probs = append(probs, Problem{Path: r.filePath, Message: fmt.Sprintf("%s is empty", *r.file)})
			continue
		}
		*r.secret = s
	}
	return probs
}

// maxSecretFile bounds a *_file secret (a key, a password, a DSN).
const maxSecretFile = 64 << 10

// readSmall reads a secret file of at most maxSecretFile bytes.
func readSmall(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxSecretFile+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if len(b) > maxSecretFile {
		return nil, &os.PathError{Op: "read", Path: path, Err: errors.New("larger than 64 KiB")}
	}
	return b, nil
}

// fileError describes a failed read without the file's content.
func fileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
	}
	return err.Error()
}

// resolve makes a relative path relative to dir.
func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// resolvePaths resolves state_path, a SQLite DSN's file and the drop folder
// against dir.
func (f *File) resolvePaths(dir string) {
	f.StatePath = resolve(dir, f.StatePath)
	if d := strings.ToLower(f.ERP.SQL.Driver); d == "" || d == "sqlite" {
		f.ERP.SQL.DSN = resolveSQLite(dir, f.ERP.SQL.DSN)
	}
	f.ERP.Files.Dir = resolve(dir, f.ERP.Files.Dir)
}

// resolveSQLite resolves the file of a SQLite DSN ("data/erp.db",
// "file:data/erp.db?mode=rwc"); in-memory databases are left alone.
func resolveSQLite(dir, dsn string) string {
	if dsn == "" || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return dsn
	}
	prefix, rest := "", dsn
	if r, ok := strings.CutPrefix(dsn, "file:"); ok {
		prefix, rest = "file:", r
	}
	p, q, hasQ := strings.Cut(rest, "?")
	if p == "" || filepath.IsAbs(p) {
		return dsn
	}
	out := prefix + filepath.Join(dir, p)
	if hasQ {
		out += "?" + q
	}
	return out
}

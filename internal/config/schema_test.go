package config

import (
	"reflect"
	"testing"

	"github.com/erpconnector/erpconnector/connector"
)

// TestEveryConnectorKeyIsAFileKey: the file's connector sections are the
// connector's own types, so every key of connector.Config is a key of the
// file, with the type and default the connector gives it (a field added
// to the connector is configurable and documented without a copy).
func TestEveryConnectorKeyIsAFileKey(t *testing.T) {
	keys := map[string]Key{}
	for _, k := range Keys() {
		keys[k.Path] = k
	}
	c := connector.Config{ONe: &connector.ONeConfig{}, CustomerAPI: &connector.CustomerAPIConfig{}}.Defaults()
	c.Schedules = connector.DefaultSchedules()
	n := 0
	walk(reflect.ValueOf(c), "", func(path string, v reflect.Value) {
		n++
		k, ok := keys[path]
		if !ok {
			t.Errorf("connector key %s is not a key of the file", path)
			return
		}
		if want := typeName(v.Type()); k.Type != want {
			t.Errorf("%s: type %s in the file, %s in the connector", path, k.Type, want)
		}
		want := ""
		if !v.IsZero() {
			want = formatValue(v)
		}
		if k.Default != want {
			t.Errorf("%s: default %q in the file's key list, %q from the connector", path, k.Default, want)
		}
	})
	if n < 30 {
		t.Fatalf("walked only %d connector keys", n)
	}
}

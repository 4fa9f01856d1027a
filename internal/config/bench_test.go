package config

import (
	"path/filepath"
	"testing"
)

// Loading is on the start-up and SIGHUP paths only; these benchmarks keep
// an eye on its cost (viper, strict decoding, 46 field rules).
func BenchmarkLoadDemo(b *testing.B) {
	p := filepath.Join(configsDir, "demo.yaml")
	env := []string{"ERPCONNECTOR_ONE_UPSTREAM_RATE=5", "ERPCONNECTOR_SCHEDULES_FEED=*/5 * * * * *"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(p, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateDemo(b *testing.B) {
	f, err := Load(filepath.Join(configsDir, "demo.yaml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedactedDemo(b *testing.B) {
	f, err := Load(filepath.Join(configsDir, "demo.yaml"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if f.Redacted() == "" {
			b.Fatal("empty")
		}
	}
}

package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

// demoConfig copies the shipped demo configuration into a work directory
// (its state and ERP land in that directory's data/), with every server on
// a free port, a smaller ERP and no storefront registrations, and returns
// its path.
func demoConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join("..", "..", "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "configs", "demo.yaml")
	writeFile(t, path, string(demo))
	t.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
	t.Setenv("ERPCONNECTOR_DEMO_SEED_CUSTOMERS", "12")
	t.Setenv("ERPCONNECTOR_DEMO_STOREFRONT_REGISTRATIONS", "0")
	return path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) *config.File {
	t.Helper()
	f, err := config.LoadValid(path, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// count counts the occurrences of sub in the log.
func count(logs *syncbuf.Buffer, sub string) int {
	return strings.Count(logs.String(), sub)
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

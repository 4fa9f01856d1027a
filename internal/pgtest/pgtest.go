// Package pgtest gives tests the PostgreSQL server CI runs (.ci/services.sh
// starts one and exports ERPCONNECTOR_TEST_POSTGRES_DSN) and a schema of
// their own on it.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// DSNVar names the environment variable that holds the test server's DSN;
// RequireVar, set to 1, makes a missing server a failure instead of a skip.
const (
	DSNVar     = "ERPCONNECTOR_TEST_POSTGRES_DSN"
	RequireVar = "ERPCONNECTOR_REQUIRE_POSTGRES"
)

// DSN returns the test server's DSN. Without one the test is skipped,
// unless RequireVar is 1 (CI), which makes that a failure.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNVar)
	if dsn == "" {
		if os.Getenv(RequireVar) == "1" {
			t.Fatalf("%s=1 but %s is not set", RequireVar, DSNVar)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. by sourcing .ci/services.sh) to run them", DSNVar)
	}
	return dsn
}

var schemas atomic.Int64

// Schema creates a schema named prefix_<pid>_<n> on the server at dsn for
// the test, dropped with everything in it when the test ends. It returns
// a connection the test may use for its own statements (closed at the end)
// and the schema's name.
func Schema(t testing.TB, dsn, prefix string) (*sql.DB, string) {
	t.Helper()
	schema := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), schemas.Add(1))
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	return admin, schema
}

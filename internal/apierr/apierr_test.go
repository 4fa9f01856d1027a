package apierr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	api := func(status int) error { return fmt.Errorf("op: %w", &Error{Operation: "x", Status: status}) }
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Success},
		{"400", api(400), Permanent},
		{"404", api(404), Permanent},
		{"409", api(409), Permanent},
		{"413", api(413), Permanent},
		{"408", api(408), Retryable},
		{"429", api(429), Retryable},
		{"500", api(500), Retryable},
		{"503", api(503), Retryable},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Canceled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Retryable},
		{"eof", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), Retryable},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("refused")}, Retryable},
		{"marked unknown over canceled", UnknownOutcome(fmt.Errorf("x: %w", context.Canceled)), OutcomeUnknown},
		{"marked permanent over 503", Permanently(api(503)), Permanent},
		{"marked temporary over 400", Temporarily(api(400)), Retryable},
		{"wrapped mark", fmt.Errorf("outer: %w", UnknownOutcome(errors.New("reset"))), OutcomeUnknown},
		{"credentials refused over 401", fmt.Errorf("outer: %w", CredentialsRefused(api(401))), Unauthorized},
		{"credentials mark wins", Permanently(CredentialsRefused(api(403))), Unauthorized},
	}
	if Unauthorized.String() != "unauthorized" {
		t.Fatalf("Unauthorized is %q", Unauthorized)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Classify(c.err); got != c.want {
				t.Fatalf("Classify(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 30 ":                          30 * time.Second,
		"-3":                            0,
		"abc":                           0,
		"999999999":                     24 * time.Hour,
		"Mon, 23 Nov 2026 12:00:10 GMT": 10 * time.Second,
		"Mon, 23 Nov 2026 11:00:00 GMT": 0,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFromResponse(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "3")
	e := FromResponse("createClient", 400, h, []byte(`{"status":400,"message":"validation failed","errors":[{"field":"tin","message":"must not be blank"}]}`), time.Now())
	if e.RetryAfter != 3*time.Second || e.Message != "validation failed" || len(e.Fields) != 1 || e.Fields[0].Field != "tin" {
		t.Fatalf("%+v", e)
	}
	if s := e.Error(); !strings.Contains(s, "tin: must not be blank") || !strings.Contains(s, "status 400") {
		t.Fatalf("Error() = %q", s)
	}
	// An opaque body is kept as a bounded, valid UTF-8 excerpt.
	body := []byte(strings.Repeat("ą", MaxBodyExcerpt))
	e = FromResponse("op", 502, nil, body, time.Now())
	if len(e.Body) > MaxBodyExcerpt+len("…") || !strings.HasSuffix(e.Body, "…") || strings.ContainsRune(e.Body, '\uFFFD') {
		t.Fatalf("excerpt %q", e.Body)
	}
}

func TestAtRecordsTheSystem(t *testing.T) {
	base := Temporarily(errors.New("database is locked"))
	err := fmt.Errorf("connector: write back: %w", At("erp", base))
	if got := SystemOf(err); got != "erp" {
		t.Fatalf("SystemOf = %q", got)
	}
	if Classify(err) != Retryable || err.Error() != "connector: write back: database is locked" {
		t.Fatalf("marking changed the class or message: %v, %q", Classify(err), err)
	}
	if SystemOf(base) != "" || At("erp", nil) != nil {
		t.Fatal("unmarked error has a system, or At(nil) is not nil")
	}
}

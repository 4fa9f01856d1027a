package queue

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// TestPoolRefusedCredentials: while the platform refuses the credentials
// the upstream is paused, its jobs wait (no attempt counted, no dead
// letter), one job tries again every CredentialsProbe, and once the
// platform accepts them everything is delivered.
func TestPoolRefusedCredentials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTest(t, Options{NoSync: true, MaxAttempts: 2})
		var accept atomic.Bool
		var sent atomic.Int64
		var gate http.RoundTripper
		p, err := NewPool(s, PoolOptions{Upstream: "one", Types: []string{"one.upsert"}, LimitRequests: true,
			CredentialsProbe: time.Minute,
			Handler: func(ctx context.Context, _ Job) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://one.test/clients/x", nil)
				resp, err := gate.RoundTrip(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					return apierr.CredentialsRefused(apierr.FromResponse("put", resp.StatusCode, resp.Header, nil, time.Now()))
				}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		gate = p.Gate(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent.Add(1)
			st := http.StatusUnauthorized
			if accept.Load() {
				st = http.StatusOK
			}
			return &http.Response{StatusCode: st, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}))
		for _, k := range []string{"a", "b", "c", "d"} {
			if err := s.Enqueue(context.Background(), Job{Type: "one.upsert", Key: k, Lane: LaneLive}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second) // the first requests, refused
		synctest.Wait()
		first := sent.Load()
		time.Sleep(3 * time.Minute) // three probes
		synctest.Wait()
		if r := p.Refused(); r == nil {
			t.Fatal("the upstream is not paused for refused credentials")
		} else if strings.Contains(r.Reason, "paused since") || !strings.Contains(r.Reason, "401") {
			// Requests held back by the pause fail too; their errors must
			// not become the reason, wrapped once more at each try.
			t.Fatalf("the refusal's reason is not the platform's answer: %q", r.Reason)
		}
		if got := testutil.ToFloat64(p.m.refused); got != 1 {
			t.Fatalf("credentials_refused = %v", got)
		}
		if n := sent.Load() - first; first == 0 || n != 3 {
			t.Fatalf("%d requests in 3 minutes of refusal after %d first ones, want one probe a minute", n, first)
		}
		st, err := s.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Dead != 0 || st.Counts.Total() != 4 {
			t.Fatalf("stats while refused: %+v", st)
		}
		accept.Store(true)
		waitEmpty(t, s, 2*time.Minute)
		stopPool(t, p)
		if p.Refused() != nil || testutil.ToFloat64(p.m.refused) != 0 {
			t.Fatal("the refusal did not end once the platform accepted the credentials")
		}
		if st, _ := s.Stats(context.Background()); st.Dead != 0 {
			t.Fatalf("%d dead letters", st.Dead)
		}
	})
}

package benchhttp

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestInProcessAnswersWithTheHandler: the answer is the handler's, with its
// status, headers, body and length, and the request body is closed.
func TestInProcessAnswersWithTheHandler(t *testing.T) {
	hc := &http.Client{Transport: InProcess{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", string(b))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"1"}`)
	})}}
	resp, err := hc.Post("http://in.process/x", "application/json", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || string(b) != `{"id":"1"}` || resp.ContentLength != 10 ||
		resp.Header.Get("Content-Length") != "10" || resp.Header.Get("X-Got") != "body" {
		t.Fatalf("answer %d %q %d %v", resp.StatusCode, b, resp.ContentLength, resp.Header)
	}
}

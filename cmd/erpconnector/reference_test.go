package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/internal/syncbuf"
)

func TestReferenceServesONe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	logs := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- runReference(ctx, referenceFlags{oneListen: "127.0.0.1:0", oneTenants: []string{"demo=very-secret"},
			customerListen: "127.0.0.1:0", customerUsers: []string{"owner@example.com=Passw0rd-secret"}, seed: 1},
			slog.New(slog.NewTextHandler(logs, nil)), out)
	}()
	var base, custBase string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "ONe reference API on "); ok {
				base = addr
			}
			if _, addr, ok := strings.Cut(sc.Text(), "Customer reference API on "); ok {
				custBase = addr
			}
		}
		if base != "" && custBase != "" {
			break
		}
	}
	if base == "" || custBase == "" {
		t.Fatalf("no address printed: %q", out.String())
	}
	login, err := http.Post(custBase+"/v1/auth/login", "application/json",
		strings.NewReader(`{"username":"owner@example.com","password":"Passw0rd-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(login.Body)
	login.Body.Close()
	if login.StatusCode != 200 || !strings.Contains(string(lb), `"access"`) {
		t.Fatalf("customer login: %d %s", login.StatusCode, lb)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/account/integrations/auth-required/clients", nil)
	req.Header.Set("one-tenant", "demo")
	req.Header.Set("ApiAuth", "very-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"totalItems":0`) {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reference did not stop on cancel")
	}
	if strings.Contains(out.String()+logs.String(), "very-secret") || strings.Contains(out.String()+logs.String(), "Passw0rd-secret") {
		t.Fatal("the API key was printed")
	}
}

func TestReferenceBadTenantFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"reference", "--one-tenant", "demo:hunter2"}, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d (%s)", code, exitUsage, stderr.String())
	}
	if strings.Contains(stderr.String(), "hunter2") || !strings.Contains(stderr.String(), "NAME=SECRET") {
		t.Fatalf("stderr %q", stderr.String())
	}
	code = run([]string{"reference", "--no-such-flag"}, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("unknown flag: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != exitOK || !strings.HasPrefix(stdout.String(), "erpconnector ") {
		t.Fatalf("version: %d %q", code, stdout.String())
	}
}

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The man pages and the Markdown pages in docs/ are those the docs
// command writes now: regenerate them with `go generate ./cmd/erpconnector`
// when a command changes.
func TestDocsAreCurrent(t *testing.T) {
	t.Setenv("ERPCONNECTOR_CONFIG", "") // the default of --config as shipped
	dir := t.TempDir()
	man, md := filepath.Join(dir, "man"), filepath.Join(dir, "cli")
	var stderr strings.Builder
	if code := run([]string{"docs", "--man", man, "--markdown", md}, io.Discard, &stderr); code != 0 {
		t.Fatalf("docs: exit %d\n%s", code, stderr.String())
	}
	for _, d := range []struct{ fresh, committed string }{
		{man, filepath.Join("..", "..", "docs", "man")},
		{md, filepath.Join("..", "..", "docs", "cli")},
	} {
		sameDir(t, d.fresh, d.committed)
	}
}

// sameDir fails unless the directories hold the same files, byte for byte.
func sameDir(t *testing.T, fresh, committed string) {
	t.Helper()
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	want, got := names(fresh), names(committed)
	const fix = "run `go generate ./cmd/erpconnector` and commit docs/"
	for _, n := range want {
		if !slices.Contains(got, n) {
			t.Errorf("%s is missing from %s: %s", n, committed, fix)
			continue
		}
		a, _ := os.ReadFile(filepath.Join(fresh, n))
		b, _ := os.ReadFile(filepath.Join(committed, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s is out of date: %s", filepath.Join(committed, n), fix)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			t.Errorf("%s documents no command any more: %s", filepath.Join(committed, n), fix)
		}
	}
	if len(want) < 30 {
		t.Errorf("docs wrote %d pages into %s", len(want), fresh)
	}
}

// The pages name no date: they change when a command does, not daily.
func TestDocsHaveNoDate(t *testing.T) {
	dir := t.TempDir()
	if code := run([]string{"docs", "--man", dir, "--markdown", dir}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("docs: exit %d", code)
	}
	page, err := os.ReadFile(filepath.Join(dir, "erpconnector-dlq-replay.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte(`.TH "ERPCONNECTOR-DLQ-REPLAY" "1" "" "erpconnector" "erpconnector manual"`)) {
		t.Errorf("the man page's .TH line:\n%s", page[:min(len(page), 200)])
	}
	md, err := os.ReadFile(filepath.Join(dir, "erpconnector_dlq_replay.md"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(md, []byte("Auto generated")) || !bytes.Contains(md, []byte("erpconnector dlq replay [ID...]")) {
		t.Errorf("the Markdown page:\n%s", md)
	}
	if code := run([]string{"docs"}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("docs without a directory: exit %d, want %d", code, exitUsage)
	}
}

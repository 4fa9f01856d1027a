package atomicfile

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestWriteReplacesWholeAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, content := range []string{"first, longer content", "second"} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v, %v; want only the file", entries, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := Write(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
}

func TestSaverSavesAfterChangesAndOnStop(t *testing.T) {
	var mu sync.Mutex
	dirty, saves := false, 0
	s := StartSaver(5*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dirty
	}, func() error {
		mu.Lock()
		defer mu.Unlock()
		saves++
		dirty = false
		return nil
	}, slog.New(slog.DiscardHandler))
	time.Sleep(30 * time.Millisecond)
	mu.Lock()
	if saves != 0 {
		t.Fatalf("%d saves with nothing changed", saves)
	}
	dirty = true
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := saves
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a change was not saved")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if saves != 2 {
		t.Fatalf("%d saves, want the change's and one on stop", saves)
	}
}

package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// makeState writes a state file with n jobs (two of them dead letters), a
// cursor and a nested bucket, and returns its path.
func makeState(t testing.TB, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fillState(t, s, n)
	return path
}

func fillState(t testing.TB, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		var jobs []Job
		for k := i; k < min(i+1000, n); k++ {
			jobs = append(jobs, Job{Type: "one.push", Key: fmt.Sprintf("C%07d", k), Lane: Lane(k % 2),
				Payload: fmt.Appendf(nil, `{"erp_key":"C%07d","name":"Customer %d Ltd","street":"High Street %d"}`, k, k, k%200)})
		}
		if err := s.Enqueue(ctx, jobs...); err != nil {
			t.Fatal(err)
		}
	}
	l := mustLease(t, s, 2)
	for _, j := range l {
		if err := s.Fail(ctx, j, errors.New("name: is required")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetCursor(ctx, "erp.changes", []byte("2026-01-02T03:04:05Z")); err != nil {
		t.Fatal(err)
	}
}

func wantState(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	ctx := context.Background()
	v, ok, err := s.GetCursor(ctx, "erp.changes")
	if err != nil || !ok || string(v) != "2026-01-02T03:04:05Z" {
		t.Fatalf("cursor: %q %v %v", v, ok, err)
	}
	dead, _, err := s.DeadLetters(ctx, DeadFilter{})
	if err != nil || len(dead) != 2 || dead[0].LastError != "name: is required" {
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ps is bbolt's page size for new files: the OS page size.
var ps = int64(os.Getpagesize())

func writeAt(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesEmptyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	var ee *EmptyError
	if !errors.As(err, &ee) || !errors.Is(err, ErrEmpty) {
		t.Fatalf("got %v, want an EmptyError", err)
	}
	for _, want := range []string{"state file " + path + " is empty", "state init", "restore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "%!") {
		t.Errorf("message badly formatted:\n%s", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatal("the refused file was changed")
	}
	if _, err := CheckFile(path, time.Second); !errors.Is(err, ErrEmpty) {
		t.Fatalf("CheckFile: got %v, want ErrEmpty", err)
	}
	// Initialised on purpose, it is a state like any other.
	s, err := Open(path, Options{InitEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(context.Background(), "c", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.GetCursor(context.Background(), "c"); string(v) != "1" {
		t.Fatalf("cursor %q", v)
	}
	s.Close()
}

func TestOpenCreatesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	rep, err := CheckFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Jobs != 0 || rep.Buckets < 8 {
		t.Fatalf("report %+v", rep)
	}
	// CheckFile creates nothing.
	missing := filepath.Join(t.TempDir(), "nope.db")
	if _, err := CheckFile(missing, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("CheckFile on a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("CheckFile created the file")
	}
}

// damages are the kinds of broken state file the tests use.
var damages = []struct {
	name string
	// want is in the problem reported.
	want  string
	apply func(t testing.TB, path string)
}{
	{"truncated", "truncated", func(t testing.TB, path string) {
		fi, _ := os.Stat(path)
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	}},
	{"truncated to a page", "truncated", func(t testing.TB, path string) {
		if err := os.Truncate(path, ps); err != nil {
			t.Fatal(err)
		}
	}},
	{"bad magic", "not a bbolt state file", func(t testing.TB, path string) {
		writeAt(t, path, 16, []byte("XXXX"))
		writeAt(t, path, ps+16, []byte("XXXX"))
	}},
	{"meta checksums", "both meta pages are invalid", func(t testing.TB, path string) {
		writeAt(t, path, 16+40, []byte{0x7f})
		writeAt(t, path, ps+16+40, []byte{0x7f})
	}},
	{"zeroed pages", "overwritten", func(t testing.TB, path string) {
		writeAt(t, path, 4*ps, make([]byte, 8*ps))
	}},
	{"garbage pages", "", func(t testing.TB, path string) {
		b := make([]byte, 6*ps)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		writeAt(t, path, 5*ps, b)
	}},
	{"not bbolt", "not a bbolt state file", func(t testing.TB, path string) {
		if err := os.WriteFile(path, []byte("state_path: data/state.db\nlog_level: info\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{"random bytes", "not a bbolt state file", func(t testing.TB, path string) {
		b := make([]byte, 64<<10)
		r := rand.New(rand.NewPCG(3, 4))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

func TestOpenDamagedFile(t *testing.T) {
	good := makeState(t, t.TempDir(), 3000)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, good, path)
			d.apply(t, path)
			before, _ := os.ReadFile(path)
			_, err := Open(path, Options{})
			var de *DamagedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want a DamagedError", err)
			}
			if !strings.Contains(de.Problem, d.want) {
				t.Errorf("problem %q lacks %q", de.Problem, d.want)
			}
			for _, want := range []string{"state file damaged: " + path + ": ", "restore a backup", "mv " + path + " " + path + ".damaged", "resync"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q:\n%s", want, err)
				}
			}
			if strings.Contains(err.Error(), "%!") {
				t.Errorf("message badly formatted:\n%s", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Open changed the damaged file")
			}
			if _, err := CheckFile(path, time.Second); !errors.Is(err, ErrDamaged) {
				t.Errorf("CheckFile: got %v, want ErrDamaged", err)
			}
			// Moved away, the path starts empty again.
			if err := os.Rename(path, path+".damaged"); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		})
	}
}

// A torn write of one meta page is what bbolt recovers from on its own:
// the file opens on the other meta page, and the check notes it.
func TestOpenOneMetaPageDamaged(t *testing.T) {
	path := makeState(t, t.TempDir(), 100)
	rep, err := CheckFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Break the meta page of the last commit.
	writeAt(t, path, int64(rep.TxID%2)*ps+16+40, []byte{0x7f})
	rep, err = CheckFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "is invalid") {
		t.Fatalf("notes %q", rep.Notes)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestOpenNeverPanicsOnDamage damages copies of a state file at random
// (bytes flipped, pages overwritten, the file cut) and opens them: Open
// either succeeds or reports the damage. A panic or a fault in bbolt's
// goroutines would end the test binary.
func TestOpenNeverPanicsOnDamage(t *testing.T) {
	good := makeState(t, t.TempDir(), 3000)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := CheckFile(good, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	inUse, pg := int(rep.Pages), int(ps)
	iterations := 300
	if testing.Short() {
		iterations = 50
	}
	dir := t.TempDir()
	var opened, damaged int
	for i := range iterations {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		b := bytes.Clone(orig)
		switch i % 4 {
		case 0: // flip a few bytes in pages in use
			for range 1 + r.IntN(4) {
				b[2*pg+r.IntN((inUse-2)*pg)] ^= byte(1 + r.IntN(255))
			}
		case 1: // overwrite a page header
			p := 2 + r.IntN(inUse-2)
			for k := range 16 {
				b[p*pg+k] = byte(r.Uint32())
			}
		case 2: // overwrite element headers
			p := 2 + r.IntN(inUse-2)
			for k := 16; k < 16+64; k++ {
				b[p*pg+k] = byte(r.Uint32())
			}
		case 3: // cut the file
			b = b[:r.IntN(len(b))]
		}
		path := filepath.Join(dir, fmt.Sprintf("s%d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("iteration %d: %v", i, err)
			}
			damaged++
			continue
		}
		opened++
		// Damage inside values passes the page check; reading must still
		// not crash (records are decoded with bounds checks).
		_, _ = s.Check(context.Background())
		_, _ = s.Stats(context.Background())
		_, _, _ = s.DeadLetters(context.Background(), DeadFilter{})
		s.Close()
		os.Remove(path)
	}
	t.Logf("%d opened, %d reported damaged", opened, damaged)
}

func TestOpenLockedFile(t *testing.T) {
	path := makeState(t, t.TempDir(), 10)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path, Options{LockTimeout: 200 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("got %v, want a LockedError", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Fatalf("waited %s", d)
	}
	for _, want := range []string{"state file " + path + " is locked by another process", "admin API"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	if _, err := CheckFile(path, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("CheckFile: %v", err)
	}
	if _, err := BackupFile(context.Background(), path, filepath.Join(t.TempDir(), "b.db"), 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("BackupFile: %v", err)
	}
	if err := CopyFile(context.Background(), path, io.Discard, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("CopyFile: %v", err)
	}
}

// TestCopyFile: a copy of a state file written to a writer is the state
// (it passes the check, with every record); a damaged or missing file is
// not copied.
func TestCopyFile(t *testing.T) {
	path := makeState(t, t.TempDir(), 500)
	dst := filepath.Join(t.TempDir(), "copy.db")
	rep, err := SaveBackup(dst, func(w io.Writer) error { return CopyFile(context.Background(), path, w, time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Jobs != 498 || rep.Dead != 2 || rep.Path != dst {
		t.Fatalf("report of the copy %+v", rep)
	}
	damages[0].apply(t, path)
	var out bytes.Buffer
	if err := CopyFile(context.Background(), path, &out, time.Second); !errors.Is(err, ErrDamaged) || out.Len() != 0 {
		t.Fatalf("copy of a damaged file: %v, %d bytes", err, out.Len())
	}
	if err := CopyFile(context.Background(), filepath.Join(t.TempDir(), "none.db"), &out, time.Second); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("copy of a missing file: %v", err)
	}
}

func TestCheckFileReport(t *testing.T) {
	path := makeState(t, t.TempDir(), 3000)
	rep, err := CheckFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Jobs != 2998 || rep.Dead != 2 || rep.Keys < 3000 || rep.PagesInUse < 10 || rep.PagesInUse > rep.Pages || rep.Path != path {
		t.Fatalf("report %+v", rep)
	}
	// A job record damaged inside its value passes the page check and is
	// found by decoding.
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(bktJobs).Put(u64key(1), []byte{99, 1, 2})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(context.Background()); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "job record 1") {
		t.Fatalf("Store.Check: %v", err)
	}
	s.Close()
	if _, err := CheckFile(path, time.Second); !errors.Is(err, ErrDamaged) {
		t.Fatalf("CheckFile: %v", err)
	}
}

// TestStoreCheckAndBackupWhileWriting checks and backs up a store while
// writers commit: both see one consistent transaction.
func TestStoreCheckAndBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "state.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fillState(t, s, 5000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = s.Enqueue(ctx, Job{Type: "t", Key: fmt.Sprintf("w%d-%d", w, i%500), Payload: bytes.Repeat([]byte{'x'}, i%3000)})
				if l, err := s.Lease(ctx, 5); err == nil {
					_ = s.Ack(ctx, l...)
				}
			}
		})
	}
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt()
	for i := range 5 {
		rep, err := s.Check(ctx)
		if err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		if rep.Dead != 2 {
			t.Fatalf("report %+v", rep)
		}
		dst := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		var size int64
		brep, err := SaveBackup(dst, func(w io.Writer) error {
			n, err := s.Backup(ctx, w, func(n int64) { size = n })
			if err == nil && n != size {
				err = fmt.Errorf("wrote %d bytes, announced %d", n, size)
			}
			return err
		})
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if brep.Path != dst || brep.Dead != 2 {
			t.Fatalf("backup report %+v", brep)
		}
	}
	halt()
	wantState(t, filepath.Join(dir, "backup-4.db"))
}

// TestBackupRestoreRoundTrip: back up a state with data, break the
// original, restore the backup: the data is there, the broken file is kept.
func TestBackupRestoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := makeState(t, dir, 2000)
	backup := filepath.Join(t.TempDir(), "backup.db")
	rep, err := BackupFile(context.Background(), path, backup, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Path != backup || rep.Dead != 2 || rep.Jobs != 1998 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := BackupFile(context.Background(), path, path, time.Second); err == nil {
		t.Fatal("backup over the state file itself accepted")
	}
	damages[0].apply(t, path)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("open the broken file: %v", err)
	}
	// A damaged backup is refused and nothing changes.
	bad := filepath.Join(t.TempDir(), "bad.db")
	copyFile(t, backup, bad)
	damages[4].apply(t, bad)
	if _, err := Restore(bad, path, time.Second); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	res, err := Restore(backup, path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Previous == "" || res.State.Dead != 2 || res.State.Path != path {
		t.Fatalf("restore report %+v", res)
	}
	if _, err := CheckFile(res.Previous, time.Second); !errors.Is(err, ErrDamaged) {
		t.Fatalf("the replaced file was not kept as it was: %v", err)
	}
	wantState(t, path)
	// Restore refuses while a process holds the state file.
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Restore(backup, path, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("restore under a running store: %v", err)
	}
	// With no file at all, restore just puts the backup in place.
	fresh := filepath.Join(t.TempDir(), "state.db")
	if res, err := Restore(backup, fresh, time.Second); err != nil || res.Previous != "" {
		t.Fatalf("restore to a new path: %+v %v", res, err)
	}
	wantState(t, fresh)
}

// TestSaveBackupRefusesABadCopy: a copy that fails its check leaves the
// destination as it was and no temporary file behind.
func TestSaveBackupRefusesABadCopy(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(dst, []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := SaveBackup(dst, func(w io.Writer) error {
		_, err := w.Write(bytes.Repeat([]byte{1}, 10000))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "failed its check") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "older backup" {
		t.Fatal("destination changed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

// BenchmarkOpen opens a state file of 100,000 jobs with and without the
// check made before bbolt maps the file.
func BenchmarkOpen(b *testing.B) {
	path := makeState(b, b.TempDir(), 100_000)
	fi, _ := os.Stat(path)
	b.Logf("state file: %d bytes", fi.Size())
	for _, check := range []bool{true, false} {
		b.Run(fmt.Sprintf("check=%v", check), func(b *testing.B) {
			checkOnOpen = check
			defer func() { checkOnOpen = true }()
			for b.Loop() {
				s, err := Open(path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
	b.Run("CheckFile", func(b *testing.B) {
		for b.Loop() {
			if _, err := CheckFile(path, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}

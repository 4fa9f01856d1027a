package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CheckFile checks the state file at path without changing it: the page
// check Open makes (check.go), then every job record and dead letter is
// decoded. It takes a shared lock, so it fails with a *LockedError while a
// process has the file open for writing (ask that process: Store.Check).
// A damaged file is a *DamagedError, a 0-byte file an *EmptyError; the
// report says what was found either way.
func CheckFile(path string, lockTimeout time.Duration) (CheckReport, error) {
	var rep CheckReport
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("state file %s: %w", path, err)
	}
	db, err := openBolt(path, openMode{readOnly: true, timeout: lockTimeout}, &rep)
	if err != nil {
		rep.Path = path
		return rep, err
	}
	defer db.Close()
	rep.Path = path
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error { return checkRecords(tx, path, &rep) })
	})
	return rep, err
}

// Check checks the store's file as of a read transaction, while the store
// is in use: every page in use is read back from the file (with plain
// reads, as Open's check does) and every job record and dead letter is
// decoded. Writers go on meanwhile; the transaction keeps the pages it
// reads from being reused.
func (s *Store) Check(ctx context.Context) (CheckReport, error) {
	rep := CheckReport{Path: s.db.Path()}
	err := guard(rep.Path, func() error {
		return s.View(ctx, func(tx *bolt.Tx) error {
			f, err := os.Open(rep.Path)
			if err != nil {
				return err
			}
			// Closing this descriptor leaves the store's flock alone
			// (flock belongs to the store's own descriptor).
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			rep.Size = fi.Size()
			rep.PageSize = s.db.Info().PageSize
			rep.TxID = uint64(tx.ID())
			hwm := uint64(tx.Size()) / uint64(rep.PageSize)
			rep.Pages = hwm
			if tx.Size() > rep.Size {
				return &DamagedError{Path: rep.Path, Problem: fmt.Sprintf("truncated while open: %d bytes, the state needs %d", rep.Size, tx.Size())}
			}
			if err := walk(f, rep.PageSize, uint64(tx.Cursor().Bucket().Root()), hwm, pgidNoFreelist, &rep); err != nil {
				return &DamagedError{Path: rep.Path, Problem: err.Error()}
			}
			return checkRecords(tx, rep.Path, &rep)
		})
	})
	return rep, err
}

// checkRecords decodes every job record and dead letter.
func checkRecords(tx *bolt.Tx, path string, rep *CheckReport) error {
	jobs, dead := tx.Bucket(bktJobs), tx.Bucket(bktDead)
	if jobs == nil || dead == nil {
		rep.Notes = append(rep.Notes, "no queue buckets: an empty state, or not an erpconnector state file")
		return nil
	}
	for _, b := range []struct {
		name string
		b    *bolt.Bucket
		n    *int
	}{{"job", jobs, &rep.Jobs}, {"dead letter", dead, &rep.Dead}} {
		err := b.b.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil // a nested bucket, not a record
			}
			if len(k) != 8 {
				return &DamagedError{Path: path, Problem: fmt.Sprintf("%s record with a key of %d bytes", b.name, len(k))}
			}
			if _, err := decodeJob(v); err != nil {
				return &DamagedError{Path: path, Problem: fmt.Sprintf("%s record %d: %v", b.name, binary.BigEndian.Uint64(k), err)}
			}
			*b.n++
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Backup writes a consistent copy of the store's file to w as of a read
// transaction, while the store is in use (bbolt's Tx.WriteTo). size, when
// not nil, is told the copy's length before the first byte. Cancelling ctx
// stops the copy.
func (s *Store) Backup(ctx context.Context, w io.Writer, size func(int64)) (int64, error) {
	var n int64
	err := s.View(ctx, func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("queue: backup: %w", err)
	}
	return n, nil
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// BackupFile copies the state file at path, which no process may hold for
// writing, into dst (see SaveBackup). The file is checked first; a damaged
// one is not copied.
func BackupFile(ctx context.Context, path, dst string, lockTimeout time.Duration) (CheckReport, error) {
	if _, err := os.Stat(path); err != nil {
		return CheckReport{}, fmt.Errorf("state file %s: %w", path, err)
	}
	if same(path, dst) {
		return CheckReport{}, fmt.Errorf("backup: %s is the state file itself", dst)
	}
	db, err := openBolt(path, openMode{readOnly: true, timeout: lockTimeout}, nil)
	if err != nil {
		return CheckReport{}, err
	}
	defer db.Close()
	return SaveBackup(dst, func(w io.Writer) error {
		return db.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(ctxWriter{ctx, w})
			return err
		})
	})
}

// CopyFile writes a consistent copy of the state file at path, which no
// process may hold for writing, to w. It takes a shared lock (waiting up
// to lockTimeout for a writer, then failing with a *LockedError) and
// checks the file's pages first, as Open does: a damaged file is not
// copied. Cancelling ctx stops the copy.
func CopyFile(ctx context.Context, path string, w io.Writer, lockTimeout time.Duration) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	db, err := openBolt(path, openMode{readOnly: true, timeout: lockTimeout}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
}

// SaveBackup writes a backup to dst atomically: write fills a temporary
// file in dst's directory, which is synced, checked like CheckFile, and
// only then renamed to dst (replacing an older file). A copy that fails the
// check is removed and reported; dst is then left as it was.
func SaveBackup(dst string, write func(w io.Writer) error) (CheckReport, error) {
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return CheckReport{}, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return CheckReport{}, fmt.Errorf("backup: copy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return CheckReport{}, fmt.Errorf("backup: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return CheckReport{}, fmt.Errorf("backup: %w", err)
	}
	rep, err := CheckFile(tmp.Name(), 0)
	if err != nil {
		var d *DamagedError
		if errors.As(err, &d) {
			err = errors.New(d.Problem)
		}
		return rep, fmt.Errorf("backup: the copy failed its check, %s was not written: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	syncDir(dir)
	rep.Path = dst
	return rep, nil
}

// RestoreReport says what Restore did.
type RestoreReport struct {
	// State is the restored state file, as checked.
	State CheckReport `json:"state"`
	// Previous is where the file that was replaced is kept ("" when there
	// was none).
	Previous string `json:"previous,omitempty"`
}

// Restore replaces the state file at path with the backup at src. The
// backup is checked first; the current file (if any) is locked for the
// whole operation, so Restore fails with a *LockedError while a process
// holds it, and it is kept, not deleted, as path.replaced-<UTC time>. The
// copy is written next to path, synced and checked, then renamed over path.
func Restore(src, path string, lockTimeout time.Duration) (RestoreReport, error) {
	var out RestoreReport
	if same(src, path) {
		return out, fmt.Errorf("restore: %s is the state file itself", src)
	}
	in, err := os.Open(src)
	if err != nil {
		return out, fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	if _, err := CheckFile(src, lockTimeout); err != nil {
		var d *DamagedError
		if errors.As(err, &d) {
			return out, fmt.Errorf("restore: %w: the backup %s: %s; nothing was changed", ErrDamaged, src, d.Problem)
		}
		return out, fmt.Errorf("restore: the backup: %w; nothing was changed", err)
	}
	// Hold the current file's lock (no check: it may well be damaged).
	cur, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cur = nil
	case err != nil:
		return out, fmt.Errorf("restore: %w", err)
	default:
		defer cur.Close()
		start := time.Now()
		if err := lockFile(cur, true, lockTimeout); err != nil {
			if errors.Is(err, errWouldBlock) {
				return out, &LockedError{Path: path, Waited: time.Since(start)}
			}
			return out, fmt.Errorf("restore: lock %s: %w", path, err)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return out, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out, fmt.Errorf("restore: copy %s: %w", src, err)
	}
	if out.State, err = CheckFile(tmp.Name(), 0); err != nil {
		return out, fmt.Errorf("restore: the copy of %s failed its check (%v); nothing was changed", src, err)
	}
	if cur != nil {
		// A hard link keeps the current file without a moment where path
		// is missing (a process starting then would create a new state).
		out.Previous = path + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(path, out.Previous); err != nil {
			if err := os.Rename(path, out.Previous); err != nil {
				return out, fmt.Errorf("restore: keep the current file: %w", err)
			}
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return out, fmt.Errorf("restore: %w", err)
	}
	syncDir(dir)
	out.State.Path = path
	return out, nil
}

// same reports whether a and b name one existing file.
func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is matched (errors.Is) by a *DamagedError: the state file
// failed the check made before it is opened.
var ErrDamaged = errors.New("state file damaged")

// ErrEmpty is matched by an *EmptyError: the state file exists with 0 bytes.
var ErrEmpty = errors.New("state file is empty")

// ErrLocked is matched by a *LockedError: another process holds the state
// file. A *LockedError also matches bbolt's ErrTimeout.
var ErrLocked = errors.New("state file locked by another process")

// DamagedError reports a state file that cannot be used as it is. Its
// message names the file and the ways to recover.
type DamagedError struct {
	// Path is the state file.
	Path string
	// Problem says what the check found.
	Problem string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("state file damaged: %s: %s\n%s", e.Path, e.Problem,
		recoverySteps(fmt.Sprintf("move the damaged file away (mv %s %s.damaged): the next start begins with an empty state", e.Path, e.Path)))
}

// recoverySteps is the advice shared by the damaged and empty errors.
func recoverySteps(startEmpty string) string {
	return "To recover, with every erpconnector process on this file stopped, either\n" +
		"  - restore a backup: erpconnector state restore BACKUP, or\n" +
		"  - " + startEmpty + ";\n" +
		"then run a full resync (erpconnector resync) so that every record is compared again and the bindings are rebuilt."
}

// Is makes errors.Is(err, ErrDamaged) hold.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// EmptyError reports a state file of 0 bytes. Open refuses it (unless
// Options.InitEmpty is set) rather than taking it for a fresh state: an
// empty file more often means a state lost (a failed copy, a full disk)
// than a first start, which finds no file at all.
type EmptyError struct {
	// Path is the state file.
	Path string
}

func (e *EmptyError) Error() string {
	return fmt.Sprintf("state file %s is empty: 0 bytes, no queue, cursors or bindings "+
		"(a first start finds no file at all; a 0-byte file usually means a state lost to a failed copy or a full disk)\n%s",
		e.Path, recoverySteps("start with an empty state on purpose: erpconnector state init"))
}

// Is makes errors.Is(err, ErrEmpty) hold.
func (e *EmptyError) Is(target error) bool { return target == ErrEmpty }

// LockedError reports a state file held by another process.
type LockedError struct {
	// Path is the state file.
	Path string
	// Waited is how long Open waited for the lock.
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("state file %s is locked by another process (waited %s), most likely a running erpconnector daemon: "+
		"one-shot commands talk to the running daemon through its admin API when admin.listen in their configuration "+
		"points at it (check --config and ERPCONNECTOR_ADMIN_LISTEN); otherwise stop the daemon first", e.Path, e.Waited.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrLocked) and errors.Is(err, bbolt's
// ErrTimeout) hold.
func (e *LockedError) Is(target error) bool {
	return target == ErrLocked || target == berrors.ErrTimeout
}

// checkOnOpen turns the check before opening off (benchmarks only).
var checkOnOpen = true

// openMode says how openBolt opens a file.
type openMode struct {
	readOnly bool
	// initEmpty lets an existing 0-byte file be initialised.
	initEmpty bool
	timeout   time.Duration
	noSync    bool
}

// openBolt opens path with bbolt after taking the file lock and checking
// the file: a missing file is created (unless read-only), a 0-byte one is
// refused unless initEmpty, a damaged one is reported as *DamagedError, a
// locked one (after the timeout) as *LockedError. The check runs under the
// lock, so no writer changes the file while it is read. rep (may be nil)
// receives what the check found.
func openBolt(path string, m openMode, rep *CheckReport) (db *bolt.DB, err error) {
	// Errors name the file by its absolute path: the operator may run
	// the commands from elsewhere.
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	if rep == nil {
		rep = &CheckReport{}
	}
	var opened *os.File
	var created bool
	var hookErr error
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, c, err := openLocked(name, flag, perm, m, rep)
		if err != nil {
			hookErr = err
			return nil, err
		}
		opened, created = f, c
		return f, nil
	}
	defer func() {
		// The check catches what makes bbolt panic or fault; this catches
		// the rest, when it happens in this goroutine.
		if r := recover(); r != nil {
			if opened != nil {
				_ = opened.Close()
			}
			db, err = nil, &DamagedError{Path: path, Problem: fmt.Sprintf("bbolt failed on it: %v", r)}
		}
		if err != nil && created {
			// Leave no 0-byte file behind: the next start would refuse it.
			if fi, serr := os.Stat(path); serr == nil && fi.Size() == 0 {
				_ = os.Remove(path)
			}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        m.timeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         m.noSync,
		ReadOnly:       m.readOnly,
		OpenFile:       openFile,
	})
	if err != nil {
		if hookErr != nil {
			return nil, hookErr
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
			return nil, &DamagedError{Path: path, Problem: err.Error()}
		}
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &LockedError{Path: path, Waited: m.timeout}
		}
		return nil, err
	}
	return db, nil
}

// openLocked is bbolt's OpenFile hook: it opens the file, takes the lock
// bbolt is about to take (bbolt's own flock on the same descriptor then
// succeeds at once) and checks the file.
func openLocked(name string, flag int, perm os.FileMode, m openMode, rep *CheckReport) (f *os.File, created bool, err error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		if flag&os.O_CREATE != 0 {
			f, err = os.OpenFile(name, flag|os.O_EXCL, perm)
			created = err == nil
			if errors.Is(err, fs.ErrExist) {
				f, err = os.OpenFile(name, flag&^os.O_CREATE, perm)
			}
		} else {
			f, err = os.OpenFile(name, flag, perm)
		}
		if err != nil {
			return nil, false, err
		}
		if err := lockFile(f, !m.readOnly, m.timeout); err != nil {
			_ = f.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, false, &LockedError{Path: name, Waited: time.Since(start)}
			}
			return nil, false, fmt.Errorf("lock %s: %w", name, err)
		}
		// While this process waited for the lock, the file may have been
		// replaced (a restore): then lock the file now at that path.
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, false, err
		}
		if pi, err := os.Stat(name); (err != nil || !os.SameFile(fi, pi)) && attempt < 3 {
			_ = f.Close()
			continue
		}
		if fi.Size() == 0 {
			if (created || m.initEmpty) && !m.readOnly {
				return f, created, nil
			}
			_ = f.Close()
			return nil, false, &EmptyError{Path: name}
		}
		if checkOnOpen {
			if err := checkFile(f, rep); err != nil {
				_ = f.Close()
				return nil, false, &DamagedError{Path: name, Problem: err.Error()}
			}
		}
		return f, created, nil
	}
}

// guard runs fn and turns a panic (a damaged record that passed the page
// check) into a *DamagedError. bbolt rolls the transaction back on the way.
func guard(path string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &DamagedError{Path: path, Problem: fmt.Sprintf("reading it failed: %v", r)}
		}
	}()
	return fn()
}

// openError wraps an error of Open; the errors above name the file already.
func openError(path string, err error) error {
	if errors.Is(err, ErrDamaged) || errors.Is(err, ErrEmpty) || errors.Is(err, ErrLocked) {
		return fmt.Errorf("queue: %w", err)
	}
	return fmt.Errorf("queue: open %s: %w", path, err)
}

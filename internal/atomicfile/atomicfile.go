// Package atomicfile writes a file so that a reader (or a restart after a
// crash) sees either its old content or its new content, never a part:
// a temporary file in the same directory, fsync, rename, fsync of the
// directory; and saves such a file in the background after changes.
package atomicfile

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Write replaces the file at path with data (mode 0600).
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("atomicfile: rename into %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Saver saves a file shortly after its content changed, and once more when
// stopped (the reference servers' state files).
type Saver struct {
	save     func() error
	stopOnce sync.Once
	done     chan struct{}
	exited   chan struct{}
	err      error
}

// StartSaver calls save every interval while dirty reports a change; a
// failed save is logged and tried again at the next tick.
func StartSaver(interval time.Duration, dirty func() bool, save func() error, log *slog.Logger) *Saver {
	s := &Saver{save: save, done: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(s.exited)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
				if dirty() {
					if err := save(); err != nil {
						log.Error("save state", "err", err)
					}
				}
			}
		}
	}()
	return s
}

// Stop stops the saver and saves once more; it is safe to call twice.
func (s *Saver) Stop() error {
	s.stopOnce.Do(func() {
		close(s.done)
		<-s.exited
		s.err = s.save()
	})
	return s.err
}

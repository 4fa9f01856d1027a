//go:build unix

package queue

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// errWouldBlock is returned by lockFile when the timeout passed.
var errWouldBlock = errors.New("file locked")

// lockFile takes the flock bbolt takes (exclusive to write, shared to read),
// retrying until timeout (0: forever).
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		case timeout > 0 && !time.Now().Before(deadline):
			return errWouldBlock
		}
		time.Sleep(50 * time.Millisecond)
	}
}

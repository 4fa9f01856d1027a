//go:build !unix

package queue

import (
	"errors"
	"os"
	"time"
)

// errWouldBlock is returned by lockFile when the timeout passed.
var errWouldBlock = errors.New("file locked")

// lockFile does nothing here: bbolt takes its own lock right after the
// check, so the check may read a file another process is writing.
func lockFile(*os.File, bool, time.Duration) error { return nil }

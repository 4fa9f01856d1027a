//go:build !unix

package queue

import (
	"errors"
	"os"
)

// mapFile is not used here: the check reads page by page.
func mapFile(*os.File, int) ([]byte, func(), error) {
	return nil, nil, errors.New("no mmap")
}

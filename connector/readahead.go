package connector

import (
	"context"
	"errors"
	"sync"
)

// readAhead reads the pages of a walk in a goroutine, up to depth pages
// ahead of their use, so that reading the next pages (an HTTP listing, an
// ERP query and its mapping) overlaps planning and committing this one.
// read returns a page, the cursor of the next and whether more follow. The
// reader's next returns the pages in order, each with its read's error
// (the reader stops after an error or the last page); stop ends the reader
// and waits for it.
func readAhead[P any](ctx context.Context, cursor string, depth int, read func(ctx context.Context, cursor string) (P, string, bool, error)) *pageReader[P] {
	ctx, cancel := context.WithCancel(ctx)
	r := &pageReader[P]{ctx: ctx, cancel: cancel, ch: make(chan readResult[P], max(depth, 1))}
	r.wg.Go(func() {
		defer close(r.ch)
		for ctx.Err() == nil {
			p, nextCursor, more, err := read(ctx, cursor)
			select {
			case r.ch <- readResult[P]{p, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || !more {
				return
			}
			cursor = nextCursor
		}
	})
	return r
}

// pageReader hands out the pages readAhead reads.
type pageReader[P any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan readResult[P]
	wg     sync.WaitGroup
}

type readResult[P any] struct {
	page P
	err  error
}

// next returns the next page, waiting for its read.
func (r *pageReader[P]) next() (P, error) {
	res, ok := <-r.ch
	if !ok {
		var zero P
		if err := r.ctx.Err(); err != nil {
			return zero, err
		}
		return zero, errors.New("connector: read past the last page")
	}
	return res.page, res.err
}

// ready reports whether next would return without waiting.
func (r *pageReader[P]) ready() bool { return len(r.ch) > 0 }

// stop ends the reader and waits for it.
func (r *pageReader[P]) stop() {
	r.cancel()
	for range r.ch {
	}
	r.wg.Wait()
}

package connector

import (
	"context"
	"errors"
	"sync"
)

// readAhead reads the pages of a walk in a goroutine, one page ahead of
// their use, so that reading the next page (an HTTP listing, an ERP query
// and its mapping) overlaps planning and committing this one. read returns
// a page, the cursor of the next and whether more follow. next returns the
// pages in order, each with its read's error (the reader stops after an
// error or the last page); stop ends the reader and waits for it.
func readAhead[P any](ctx context.Context, cursor string, read func(ctx context.Context, cursor string) (P, string, bool, error)) (next func() (P, error), stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		page P
		err  error
	}
	ch := make(chan result, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ch)
		for ctx.Err() == nil {
			p, nextCursor, more, err := read(ctx, cursor)
			select {
			case ch <- result{p, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || !more {
				return
			}
			cursor = nextCursor
		}
	})
	next = func() (P, error) {
		r, ok := <-ch
		if !ok {
			var zero P
			if err := ctx.Err(); err != nil {
				return zero, err
			}
			return zero, errors.New("connector: read past the last page")
		}
		return r.page, r.err
	}
	stop = func() {
		cancel()
		for range ch {
		}
		wg.Wait()
	}
	return next, stop
}

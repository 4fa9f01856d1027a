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

// readAheadWide is readAhead reading up to width pages side by side when
// the cursor after a page can be told before it is read (guess returns
// it): a page is read while the one before it is still on its way. A read
// whose cursor turns out wrong (the page before ended the walk, failed or
// named another next) is dropped and its error ignored; the pages still
// come in order, each from the cursor its predecessor named.
func readAheadWide[P any](ctx context.Context, cursor string, depth, width int, guess func(string) (string, bool),
	read func(ctx context.Context, cursor string) (P, string, bool, error)) *pageReader[P] {
	if guess == nil || width < 2 {
		return readAhead(ctx, cursor, depth, read)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &pageReader[P]{ctx: ctx, cancel: cancel, ch: make(chan readResult[P], max(depth, 1))}
	type flight struct {
		cursor string
		cancel context.CancelFunc
		done   chan struct{}
		page   P
		next   string
		more   bool
		err    error
	}
	start := func(cursor string) *flight {
		fctx, fcancel := context.WithCancel(ctx)
		f := &flight{cursor: cursor, cancel: fcancel, done: make(chan struct{})}
		r.wg.Go(func() {
			defer close(f.done)
			f.page, f.next, f.more, f.err = read(fctx, cursor)
		})
		return f
	}
	r.wg.Go(func() {
		defer close(r.ch)
		flights := []*flight{start(cursor)}
		defer func() {
			for _, f := range flights {
				f.cancel()
			}
		}()
		for ctx.Err() == nil {
			for len(flights) < width {
				g, ok := guess(flights[len(flights)-1].cursor)
				if !ok {
					break
				}
				flights = append(flights, start(g))
			}
			f := flights[0]
			select {
			case <-f.done:
			case <-ctx.Done():
				return
			}
			flights = flights[1:]
			f.cancel()
			select {
			case r.ch <- readResult[P]{f.page, f.err}:
			case <-ctx.Done():
				return
			}
			if f.err != nil || !f.more {
				return
			}
			if len(flights) == 0 || flights[0].cursor != f.next {
				for _, g := range flights {
					g.cancel()
					<-g.done // never more than width reads at once
				}
				flights = []*flight{start(f.next)}
			}
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

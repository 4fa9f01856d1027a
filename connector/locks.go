package connector

import (
	"context"
	"sync"

	"github.com/erpconnector/erpconnector/queue"
)

// keyLocks serialises the handlers that read, change and write the same ERP
// customer (an ONe pull, a Customer API pull, a certificate refresh and the
// pushes of one record), so none of them writes back a copy another has
// just changed. Each key has its own lock, held only while someone needs it.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // holds a token while locked
	refs int
}

// lock locks key and returns the unlock function (call it once).
func (l *keyLocks) lock(key string) func() {
	unlock, _ := l.lockCtx(context.Background(), key)
	return unlock
}

// lockCtx is lock, giving up with ctx's error when ctx ends first.
func (l *keyLocks) lockCtx(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1)}
		l.m[key] = k
	}
	k.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case k.held <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	return func() {
		<-k.held
		release()
	}, nil
}

// lockUntilSettled locks key for a queue handler until its job's settlement
// (and with it every binding the handler deferred) is committed, so the next
// handler of the same record reads what this one wrote. Outside a handler
// the caller unlocks with the returned function; inside, it is a no-op.
func (l *keyLocks) lockUntilSettled(ctx context.Context, key string) func() {
	unlock := l.lock(key)
	if queue.AfterSettle(ctx, unlock) {
		return func() {}
	}
	return unlock
}

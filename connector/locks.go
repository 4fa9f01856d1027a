package connector

import (
	"hash/fnv"
	"sync"
)

// keyLocks serialises the handlers that read, change and write the same ERP
// customer (an ONe pull, a Customer API pull, a certificate refresh and the
// pushes of one record), so none of them writes back a copy another has
// just changed. Keys share a fixed set of stripes.
type keyLocks struct {
	stripes [256]sync.Mutex
}

// lock locks key's stripe and returns the unlock function.
func (l *keyLocks) lock(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &l.stripes[h.Sum32()%uint32(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

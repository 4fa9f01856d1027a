package state

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/erpconnector/erpconnector/queue"
)

// Chunk members: a queue job that carries the new customers of a migration
// in one chunk (see the connector's chunk jobs) names each customer it
// still has to deliver here, by the job key the customer's own push job
// would have; the value is the chunk job's key and the customer's payload
// (each in a value of its own: small values keep the file from growing,
// where one large value per chunk would need runs of free pages). Any job
// queued for a member's key takes the customer out of its chunk (Enqueue
// and Advance drop the entry), so a chunk never delivers a copy older than
// what was queued after it; a delivery drops the entry with its
// settlement.
var bktChunkMembers = []byte("chunk.members")

// NewChunkKey returns a job key for a new chunk job of the given prefix,
// unique in the file ("<prefix>:chunk:<n>").
func (t *Tx) NewChunkKey(prefix string) (string, error) {
	b, err := t.bucket(bktChunkMembers)
	if err != nil {
		return "", err
	}
	n, err := b.NextSequence()
	if err != nil {
		return "", fmt.Errorf("state: chunk key: %w", err)
	}
	return prefix + ":chunk:" + strconv.FormatUint(n, 10), nil
}

// PutChunkMember records member (a job key) as a member of the chunk job
// chunkKey, with its payload.
func (t *Tx) PutChunkMember(member, chunkKey string, payload []byte) error {
	b, err := t.bucket(bktChunkMembers)
	if err != nil {
		return err
	}
	v := make([]byte, 0, len(chunkKey)+1+len(payload))
	v = append(append(append(v, chunkKey...), 0), payload...)
	if err := b.Put([]byte(member), v); err != nil {
		return fmt.Errorf("state: chunk member: %w", err)
	}
	return nil
}

// ChunkMember returns the key of the chunk job a member job key belongs to
// ("" when none) and its payload (valid until the transaction ends).
func (t *Tx) ChunkMember(member string) (chunkKey string, payload []byte) {
	b := t.tx.Bucket(bktChunkMembers)
	if b == nil {
		return "", nil
	}
	v := b.Get([]byte(member))
	k, p, _ := bytes.Cut(v, []byte{0})
	return string(k), p
}

// ChunkOf returns the key of the chunk job a member job key belongs to, ""
// when none.
func (t *Tx) ChunkOf(member string) string {
	k, _ := t.ChunkMember(member)
	return k
}

// DropChunkMember takes member out of the chunk job chunkKey (when it is
// still that chunk's; "" takes it out of any chunk).
func (t *Tx) DropChunkMember(member, chunkKey string) error {
	b := t.tx.Bucket(bktChunkMembers)
	if b == nil {
		return nil
	}
	if k := t.ChunkOf(member); k == "" || chunkKey != "" && k != chunkKey {
		return nil
	}
	if err := b.Delete([]byte(member)); err != nil {
		return fmt.Errorf("state: chunk member: %w", err)
	}
	return nil
}

// ChunkMembers counts the customers the chunk jobs still have to deliver.
func (t *Tx) ChunkMembers() int {
	b := t.tx.Bucket(bktChunkMembers)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

// HandOver takes jobs' keys out of the chunk job chunkKey and queues a job
// of its own for each (see queue.Store.HandOverTx: err is how the first
// attempt of each just ended, nil for none), leaving out a key no longer
// the chunk's: a newer job of its own delivers it.
func (t *Tx) HandOver(chunkKey string, err error, jobs ...queue.Job) error {
	var keep []queue.Job
	for _, j := range jobs {
		if t.ChunkOf(j.Key) != chunkKey {
			continue
		}
		if derr := t.DropChunkMember(j.Key, chunkKey); derr != nil {
			return derr
		}
		keep = append(keep, j)
	}
	if len(keep) == 0 {
		return nil
	}
	return t.s.q.HandOverTx(t.tx, err, keep...)
}

// bktChunkStarted marks the chunk jobs whose delivery has started and not
// yet settled: a chunk found marked when it is delivered may have created
// members whose bindings never committed (its process died).
var bktChunkStarted = []byte("chunk.started")

// MarkChunkStarted marks the chunk job chunkKey as started.
func (t *Tx) MarkChunkStarted(chunkKey string) error {
	b, err := t.bucket(bktChunkStarted)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(chunkKey), nil); err != nil {
		return fmt.Errorf("state: chunk started: %w", err)
	}
	return nil
}

// ChunkStarted reports whether the chunk job chunkKey is marked started.
func (t *Tx) ChunkStarted(chunkKey string) bool {
	b := t.tx.Bucket(bktChunkStarted)
	return b != nil && b.Get([]byte(chunkKey)) != nil
}

// DropChunkStarted removes the mark of the chunk job chunkKey.
func (t *Tx) DropChunkStarted(chunkKey string) error {
	b := t.tx.Bucket(bktChunkStarted)
	if b == nil {
		return nil
	}
	if err := b.Delete([]byte(chunkKey)); err != nil {
		return fmt.Errorf("state: chunk started: %w", err)
	}
	return nil
}

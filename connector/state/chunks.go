package state

import (
	"fmt"
	"strconv"

	"github.com/erpconnector/erpconnector/queue"
)

// Chunk members: a queue job that carries the new customers of a migration
// in one chunk (see the connector's chunk jobs) names each customer it
// still has to deliver here, by the job key the customer's own push job
// would have, with the chunk job's key as the value. Any job queued for a
// member's key takes the customer out of its chunk (Enqueue and Advance
// drop the entry), so a chunk never delivers a copy older than what was
// queued after it; a delivery drops the entry with its settlement.
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

// PutChunkMembers records the member job keys of the chunk job chunkKey.
func (t *Tx) PutChunkMembers(chunkKey string, members []string) error {
	b, err := t.bucket(bktChunkMembers)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := b.Put([]byte(m), []byte(chunkKey)); err != nil {
			return fmt.Errorf("state: chunk member: %w", err)
		}
	}
	return nil
}

// ChunkOf returns the key of the chunk job a member job key belongs to, ""
// when none.
func (t *Tx) ChunkOf(member string) string {
	b := t.tx.Bucket(bktChunkMembers)
	if b == nil {
		return ""
	}
	return string(b.Get([]byte(member)))
}

// DropChunkMember takes member out of the chunk job chunkKey (when it is
// still that chunk's; "" takes it out of any chunk).
func (t *Tx) DropChunkMember(member, chunkKey string) error {
	b := t.tx.Bucket(bktChunkMembers)
	if b == nil {
		return nil
	}
	if v := b.Get([]byte(member)); v == nil || chunkKey != "" && string(v) != chunkKey {
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

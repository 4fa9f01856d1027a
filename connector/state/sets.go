package state

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Sets hold platform ids a walk over a platform has seen (a resync, a
// listing of the Customer API), so that what the walk did not see can be
// looked at afterwards. A set lives in the file and survives a restart:
// a resumed walk keeps what it saw before.
func setBucket(name string) []byte { return []byte("set." + name) }

// ResetSet empties the named set.
func (t *Tx) ResetSet(name string) error {
	if err := t.tx.DeleteBucket(setBucket(name)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	if _, err := t.tx.CreateBucket(setBucket(name)); err != nil {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	return nil
}

// AddToSet adds a platform id to the named set.
func (t *Tx) AddToSet(name, id string) error {
	b, err := t.bucket(setBucket(name))
	if err != nil {
		return err
	}
	if err := b.Put(idKey(id), nil); err != nil {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	return nil
}

// InSet reports whether the named set holds a platform id.
func (t *Tx) InSet(name, id string) bool {
	b := t.tx.Bucket(setBucket(name))
	return b != nil && b.Get(idKey(id)) != nil
}

// DropSet removes the named set.
func (t *Tx) DropSet(name string) error {
	if err := t.tx.DeleteBucket(setBucket(name)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	return nil
}

package state

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Sets hold the keys a walk has seen (the ERP keys of the bound records a
// walk over a platform's listing found, the keys of an ERP walk), so that
// what the walk did not see can be looked at afterwards. A set lives in the file and survives a restart:
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

// AddToSet adds a key to the named set.
func (t *Tx) AddToSet(name, key string) error {
	b, err := t.bucket(setBucket(name))
	if err != nil {
		return err
	}
	if err := b.Put(idKey(key), nil); err != nil {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	return nil
}

// InSet reports whether the named set holds a key.
func (t *Tx) InSet(name, key string) bool {
	b := t.tx.Bucket(setBucket(name))
	return b != nil && b.Get(idKey(key)) != nil
}

// DropSet removes the named set.
func (t *Tx) DropSet(name string) error {
	if err := t.tx.DeleteBucket(setBucket(name)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("state: set %s: %w", name, err)
	}
	return nil
}

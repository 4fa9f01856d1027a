package connector

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/mapping"
)

// Binding links an ERP customer to its record on one platform.
type Binding struct {
	// ERPKey is the customer's ERP key.
	ERPKey string `json:"erpKey"`
	// ID is the platform's id (ONe client id, Customer API organisation id).
	ID string `json:"id"`
	// PushedHash is the content hash of what the platform holds as far as the
	// connector knows: what it last pushed, or what it last took in.
	PushedHash string `json:"pushedHash,omitempty"`
	// SeenHash is the content hash of the platform's record as the connector
	// last took it in; an unchanged record is not applied again.
	SeenHash string `json:"seenHash,omitempty"`
	// Extra holds platform-specific ids (e.g. the ONe billing address id,
	// the Customer API business unit id).
	Extra map[string]string `json:"extra,omitempty"`
	// Version increases on every change the live path applies; a resync that
	// read an older version does not overwrite the record (the watermark).
	Version uint64 `json:"version"`
	// Updated is when the binding last changed.
	Updated time.Time `json:"updated"`
}

func bindingBucket(p mapping.Platform) []byte { return []byte("bindings." + string(p)) }
func reverseBucket(p mapping.Platform) []byte { return []byte("bindings." + string(p) + ".by-id") }

// bindings reads and writes bindings inside bbolt transactions of the state file.
type bindings struct{}

func (bindings) ensure(tx *bolt.Tx) error {
	for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
		if _, err := tx.CreateBucketIfNotExists(bindingBucket(p)); err != nil {
			return fmt.Errorf("connector: bindings: %w", err)
		}
		if _, err := tx.CreateBucketIfNotExists(reverseBucket(p)); err != nil {
			return fmt.Errorf("connector: bindings: %w", err)
		}
	}
	return nil
}

// get returns the binding of an ERP key; ok is false when there is none.
func (bindings) get(tx *bolt.Tx, p mapping.Platform, erpKey string) (Binding, bool, error) {
	b := tx.Bucket(bindingBucket(p))
	if b == nil {
		return Binding{}, false, nil
	}
	v := b.Get([]byte(erpKey))
	if v == nil {
		return Binding{}, false, nil
	}
	out, err := decodeBinding(erpKey, v)
	if err != nil {
		return Binding{}, false, fmt.Errorf("connector: binding %s/%s: %w", p, erpKey, err)
	}
	return out, true, nil
}

// byID returns the ERP key bound to a platform id.
func (bindings) byID(tx *bolt.Tx, p mapping.Platform, id string) (string, bool) {
	b := tx.Bucket(reverseBucket(p))
	if b == nil {
		return "", false
	}
	v := b.Get(idKey(id))
	if v == nil {
		v = b.Get([]byte(id)) // written by an earlier version
	}
	if v == nil {
		return "", false
	}
	return string(v), true
}

// put stores a binding (and its reverse index), bumping its version.
func (bs bindings) put(tx *bolt.Tx, p mapping.Platform, in Binding, now time.Time) (Binding, error) {
	if err := bs.ensure(tx); err != nil {
		return Binding{}, err
	}
	old, had, err := bs.get(tx, p, in.ERPKey)
	if err != nil {
		return Binding{}, err
	}
	if had && old.ID != in.ID && old.ID != "" {
		if err := deleteIDKey(tx.Bucket(reverseBucket(p)), old.ID); err != nil {
			return Binding{}, fmt.Errorf("connector: binding: %w", err)
		}
	}
	in.Version = old.Version + 1
	in.Updated = now
	bk := tx.Bucket(bindingBucket(p))
	// Pages split at 70 %: ERP keys arrive in scan order during a
	// migration (fuller pages pay), but in random order when a platform's
	// customers are taken in (too full a split leaves near-empty pages).
	bk.FillPercent = 0.7
	if err := bk.Put([]byte(in.ERPKey), encodeBinding(in)); err != nil {
		return Binding{}, fmt.Errorf("connector: binding: %w", err)
	}
	if in.ID != "" {
		if err := tx.Bucket(reverseBucket(p)).Put(idKey(in.ID), []byte(in.ERPKey)); err != nil {
			return Binding{}, fmt.Errorf("connector: binding: %w", err)
		}
	}
	return in, nil
}

// remove deletes the binding of an ERP key.
func (bs bindings) remove(tx *bolt.Tx, p mapping.Platform, erpKey string) error {
	old, had, err := bs.get(tx, p, erpKey)
	if err != nil || !had {
		return err
	}
	// An id still waiting to be written back must not land after the unbinding.
	if err := dropWriteBack(tx, p, erpKey); err != nil {
		return fmt.Errorf("connector: binding: %w", err)
	}
	if err := tx.Bucket(bindingBucket(p)).Delete([]byte(erpKey)); err != nil {
		return fmt.Errorf("connector: binding: %w", err)
	}
	if old.ID != "" {
		if err := deleteIDKey(tx.Bucket(reverseBucket(p)), old.ID); err != nil {
			return fmt.Errorf("connector: binding: %w", err)
		}
	}
	return nil
}

// count returns how many customers are bound to a platform.
func (bindings) count(tx *bolt.Tx, p mapping.Platform) int {
	if b := tx.Bucket(bindingBucket(p)); b != nil {
		return b.Stats().KeyN
	}
	return 0
}

// each calls fn for every binding of a platform in ERP key order.
func (bindings) each(tx *bolt.Tx, p mapping.Platform, fn func(Binding) error) error {
	b := tx.Bucket(bindingBucket(p))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		bd, err := decodeBinding(string(k), v)
		if err != nil {
			return fmt.Errorf("connector: binding %s/%s: %w", p, k, err)
		}
		return fn(bd)
	})
}

// deleteIDKey removes a platform id from the reverse index, in its compact
// form and in the plain form earlier versions wrote.
func deleteIDKey(b *bolt.Bucket, id string) error {
	if err := b.Delete(idKey(id)); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

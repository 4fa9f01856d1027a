package state

import (
	"bytes"
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
	// PushedHash is the digest (mapping.Digest) of what the platform holds as
	// far as the connector knows: what it last pushed, or what it last took
	// in, in the ERP's terms.
	PushedHash string `json:"pushedHash,omitempty"`
	// SeenHash is the content hash of the platform's record as the connector
	// last read it; an unchanged record is not taken in again.
	SeenHash string `json:"seenHash,omitempty"`
	// Extra holds platform-specific ids (the ONe billing address id, the
	// Customer API farm business unit id).
	Extra map[string]string `json:"extra,omitempty"`
	// Version increases on every change the live path applies; a resync that
	// read an older version does not overwrite the record (the watermark).
	Version uint64 `json:"version"`
	// Updated is when the binding last changed.
	Updated time.Time `json:"updated"`
	// PushedAt is when PushedHash last changed: when the platform last
	// received (or the connector last took in) a change of the record.
	PushedAt time.Time `json:"pushedAt,omitzero"`
	// SeenAt is when SeenHash last changed: when the connector last read a
	// change of the platform's record.
	SeenAt time.Time `json:"seenAt,omitzero"`
	// RowHash, when not 0, says which ERP row maps to which PushedHash: a
	// hash of an ERP row's digest (erp.Item.Digest) and of the digest that
	// row maps to for this platform (see the connector's rowHash). A full
	// resync does not map a row whose digest and the current PushedHash
	// give RowHash back: it maps to what the platform holds.
	RowHash uint64 `json:"rowHash,omitempty"`
}

func bindingBucket(p mapping.Platform) []byte   { return []byte("bindings." + string(p)) }
func reverseBucket(p mapping.Platform) []byte   { return []byte("bindings." + string(p) + ".by-id") }
func tombstoneBucket(p mapping.Platform) []byte { return []byte("tombstones." + string(p)) }
func tombstoneKeyBucket(p mapping.Platform) []byte {
	return []byte("tombstones." + string(p) + ".by-key")
}

// bucket returns a bucket, creating it in a writable transaction.
func (t *Tx) bucket(name []byte) (*bolt.Bucket, error) {
	if b := t.tx.Bucket(name); b != nil || !t.tx.Writable() {
		return b, nil
	}
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, fmt.Errorf("state: bucket %s: %w", name, err)
	}
	return b, nil
}

// Binding returns the binding of an ERP key; ok is false when there is none.
func (t *Tx) Binding(p mapping.Platform, erpKey string) (Binding, bool, error) {
	b := t.tx.Bucket(bindingBucket(p))
	if b == nil {
		return Binding{}, false, nil
	}
	v := b.Get([]byte(erpKey))
	if v == nil {
		return Binding{}, false, nil
	}
	out, err := decodeBinding(erpKey, v)
	if err != nil {
		return Binding{}, false, fmt.Errorf("state: binding %s/%s: %w", p, erpKey, err)
	}
	return out, true, nil
}

// KeyOf returns the ERP key bound to a platform id.
func (t *Tx) KeyOf(p mapping.Platform, id string) (string, bool) {
	b := t.tx.Bucket(reverseBucket(p))
	if b == nil || id == "" {
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

// SetRowHash stores a binding's RowHash, leaving its version and times as
// they are (the row hash is bookkeeping of the resync, not a change of the
// record). A key without a binding, or one that holds h already, is left.
// The resync and the ERP scans keep it.
func (t *Tx) SetRowHash(p mapping.Platform, erpKey string, h uint64) error {
	b, had, err := t.Binding(p, erpKey)
	if err != nil || !had || b.RowHash == h {
		return err
	}
	b.RowHash = h
	bk, err := t.bucket(bindingBucket(p))
	if err != nil {
		return err
	}
	bk.FillPercent = 0.7
	if err := bk.Put([]byte(erpKey), encodeBinding(b)); err != nil {
		return fmt.Errorf("state: binding: %w", err)
	}
	return nil
}

// PutBinding stores a binding (and its reverse index), bumping its version,
// and forgets any tombstone of its id. PushedAt and SeenAt are set to now
// when their hash changed (kept from the stored binding otherwise). It
// returns the binding as stored.
func (t *Tx) PutBinding(p mapping.Platform, in Binding) (Binding, error) {
	bk, err := t.bucket(bindingBucket(p))
	if err != nil {
		return Binding{}, err
	}
	rev, err := t.bucket(reverseBucket(p))
	if err != nil {
		return Binding{}, err
	}
	old, had, err := t.Binding(p, in.ERPKey)
	if err != nil {
		return Binding{}, err
	}
	if had && old.ID != in.ID && old.ID != "" {
		if err := deleteIDKey(rev, old.ID); err != nil {
			return Binding{}, fmt.Errorf("state: binding: %w", err)
		}
	}
	now := t.s.now()
	in.Version = old.Version + 1
	in.Updated = now
	in.PushedAt = changedAt(had, old.PushedHash, old.PushedAt, in.PushedHash, now)
	in.SeenAt = changedAt(had, old.SeenHash, old.SeenAt, in.SeenHash, now)
	// Pages split at 70 %: ERP keys arrive in scan order during a
	// migration (fuller pages pay), but in random order when a platform's
	// customers are taken in (too full a split leaves near-empty pages).
	bk.FillPercent = 0.7
	if err := bk.Put([]byte(in.ERPKey), encodeBinding(in)); err != nil {
		return Binding{}, fmt.Errorf("state: binding: %w", err)
	}
	if in.ID != "" {
		if err := rev.Put(idKey(in.ID), []byte(in.ERPKey)); err != nil {
			return Binding{}, fmt.Errorf("state: binding: %w", err)
		}
		if err := t.Untombstone(p, in.ID); err != nil {
			return Binding{}, err
		}
	}
	return in, nil
}

// changedAt is when a hash last changed: the old time when it is the stored
// one, now when it is new, zero when there is none.
func changedAt(had bool, oldHash string, oldAt time.Time, hash string, now time.Time) time.Time {
	switch {
	case hash == "":
		return time.Time{}
	case had && hash == oldHash && !oldAt.IsZero():
		return oldAt
	}
	return now
}

// RemoveBinding deletes the binding of an ERP key and any id of it still
// waiting to be written back.
func (t *Tx) RemoveBinding(p mapping.Platform, erpKey string) error {
	old, had, err := t.Binding(p, erpKey)
	if err != nil || !had {
		return err
	}
	// An id still waiting to be written back must not land after the unbinding.
	if err := t.DropWriteBack(p, erpKey); err != nil {
		return err
	}
	if err := t.tx.Bucket(bindingBucket(p)).Delete([]byte(erpKey)); err != nil {
		return fmt.Errorf("state: binding: %w", err)
	}
	if old.ID != "" {
		if err := deleteIDKey(t.tx.Bucket(reverseBucket(p)), old.ID); err != nil {
			return fmt.Errorf("state: binding: %w", err)
		}
	}
	return nil
}

// CountBindings returns how many customers are bound to a platform.
func (t *Tx) CountBindings(p mapping.Platform) int {
	if b := t.tx.Bucket(bindingBucket(p)); b != nil {
		return b.Stats().KeyN
	}
	return 0
}

// EachBinding calls fn for every binding of a platform whose ERP key sorts
// after the given one, in ERP key order, until fn returns false.
func (t *Tx) EachBinding(p mapping.Platform, after string, fn func(Binding) (bool, error)) error {
	b := t.tx.Bucket(bindingBucket(p))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := c.First()
	if after != "" {
		k, v = c.Seek([]byte(after))
		if k != nil && bytes.Equal(k, []byte(after)) {
			k, v = c.Next()
		}
	}
	for ; k != nil; k, v = c.Next() {
		bd, err := decodeBinding(string(k), v)
		if err != nil {
			return fmt.Errorf("state: binding %s/%s: %w", p, k, err)
		}
		more, err := fn(bd)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// deleteIDKey removes a platform id from the reverse index, in its compact
// form and in the plain form earlier versions wrote.
func deleteIDKey(b *bolt.Bucket, id string) error {
	if err := b.Delete(idKey(id)); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// Tombstone records that a platform id was unbound on purpose (the ERP
// unflagged or deleted its customer): the platform record is not taken in
// as a new ERP customer, and the ERP customer flagged again gets the same
// record back (TombstoneOf). Binding the id again forgets the tombstone.
func (t *Tx) Tombstone(p mapping.Platform, id, erpKey string) error {
	if id == "" {
		return nil
	}
	b, err := t.bucket(tombstoneBucket(p))
	if err != nil {
		return err
	}
	bk, err := t.bucket(tombstoneKeyBucket(p))
	if err != nil {
		return err
	}
	if err := b.Put(idKey(id), []byte(erpKey)); err != nil {
		return fmt.Errorf("state: tombstone: %w", err)
	}
	if err := bk.Put([]byte(erpKey), []byte(id)); err != nil {
		return fmt.Errorf("state: tombstone: %w", err)
	}
	return nil
}

// TombstoneOf returns the platform id last unbound on purpose from an ERP key.
func (t *Tx) TombstoneOf(p mapping.Platform, erpKey string) (string, bool) {
	b := t.tx.Bucket(tombstoneKeyBucket(p))
	if b == nil {
		return "", false
	}
	v := b.Get([]byte(erpKey))
	return string(v), v != nil
}

// Tombstoned returns the ERP key a platform id was unbound from on purpose.
func (t *Tx) Tombstoned(p mapping.Platform, id string) (string, bool) {
	b := t.tx.Bucket(tombstoneBucket(p))
	if b == nil || id == "" {
		return "", false
	}
	v := b.Get(idKey(id))
	return string(v), v != nil
}

// Untombstone forgets the tombstone of a platform id.
func (t *Tx) Untombstone(p mapping.Platform, id string) error {
	b := t.tx.Bucket(tombstoneBucket(p))
	if b == nil || !t.tx.Writable() {
		return nil
	}
	key := b.Get(idKey(id))
	if key == nil {
		return nil
	}
	if bk := t.tx.Bucket(tombstoneKeyBucket(p)); bk != nil {
		if v := bk.Get(key); v != nil && string(v) == id {
			if err := bk.Delete(key); err != nil {
				return fmt.Errorf("state: tombstone: %w", err)
			}
		}
	}
	if err := b.Delete(idKey(id)); err != nil {
		return fmt.Errorf("state: tombstone: %w", err)
	}
	return nil
}

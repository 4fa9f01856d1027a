package state

import (
	"bytes"
	"context"
	"fmt"

	"github.com/erpconnector/erpconnector/mapping"
)

// Write-backs are the ids platforms assigned, waiting to be written into
// the ERP: a handler records one with its job's settlement, the write-back
// loop writes them in large batches and then forgets them. A crash loses
// nothing: what is pending stays in the file until written.
var bktWriteBacks = []byte("writeback.pending")

// WriteBack is one pending write-back.
type WriteBack struct {
	Platform mapping.Platform
	Key      string
	ID       string
}

func writeBackKey(p mapping.Platform, erpKey string) []byte {
	return []byte(string(p) + "\x00" + erpKey)
}

func parseWriteBackKey(k []byte) (mapping.Platform, string, bool) {
	p, key, ok := bytes.Cut(k, []byte{0})
	return mapping.Platform(p), string(key), ok
}

// PutWriteBack records that id must be written back to the ERP customer key.
func (t *Tx) PutWriteBack(p mapping.Platform, key, id string) error {
	b, err := t.bucket(bktWriteBacks)
	if err != nil {
		return err
	}
	if err := b.Put(writeBackKey(p, key), []byte(id)); err != nil {
		return fmt.Errorf("state: write-back: %w", err)
	}
	return nil
}

// DropWriteBack forgets a pending write-back.
func (t *Tx) DropWriteBack(p mapping.Platform, key string) error {
	if b := t.tx.Bucket(bktWriteBacks); b != nil && t.tx.Writable() {
		if err := b.Delete(writeBackKey(p, key)); err != nil {
			return fmt.Errorf("state: write-back: %w", err)
		}
	}
	return nil
}

// SettleWriteBack forgets a pending write-back if it still holds id (a newer
// id recorded meanwhile stays pending); it reports whether it did.
func (t *Tx) SettleWriteBack(w WriteBack) (bool, error) {
	b := t.tx.Bucket(bktWriteBacks)
	if b == nil {
		return false, nil
	}
	k := writeBackKey(w.Platform, w.Key)
	if cur := b.Get(k); cur == nil || string(cur) != w.ID {
		return false, nil
	}
	if err := b.Delete(k); err != nil {
		return false, fmt.Errorf("state: write-back: %w", err)
	}
	return true, nil
}

// PendingWriteBacks returns up to limit pending write-backs.
func (s *Store) PendingWriteBacks(ctx context.Context, limit int) ([]WriteBack, error) {
	var out []WriteBack
	err := s.View(ctx, func(t *Tx) error {
		b := t.tx.Bucket(bktWriteBacks)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if p, key, ok := parseWriteBackKey(k); ok {
				out = append(out, WriteBack{Platform: p, Key: key, ID: string(v)})
			}
		}
		return nil
	})
	return out, err
}

// NoWriteBacks reports, without counting, that nothing waits to be written back.
func (s *Store) NoWriteBacks(ctx context.Context) (bool, error) {
	none := true
	err := s.View(ctx, func(t *Tx) error {
		if b := t.tx.Bucket(bktWriteBacks); b != nil {
			k, _ := b.Cursor().First()
			none = k == nil
		}
		return nil
	})
	return none, err
}

// CountWriteBacks counts the ids not yet written to the ERP.
func (s *Store) CountWriteBacks(ctx context.Context) (int, error) {
	n := 0
	err := s.View(ctx, func(t *Tx) error {
		if b := t.tx.Bucket(bktWriteBacks); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

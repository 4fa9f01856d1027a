package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The run history is one record per run of a pipeline (a scan, a feed
// poll, a resync, …) with what its records came to on each platform, for
// the operator's status and status page. It is small (a bounded number of
// records per pipeline, a bounded age) and written in batches by the
// connector, never once per delivered record; records are JSON, keyed by
// their id in big-endian order, so a listing is in id order and fields
// added later read back from older records as zero.

// bktRuns holds the run records.
var bktRuns = []byte("runs.history")

// RunRecord is one run of a pipeline, or several idle runs in a row.
type RunRecord struct {
	// ID identifies the run; it increases with the start time.
	ID uint64 `json:"id"`
	// Pipeline is the run's name (new_customers, updates, feed,
	// customer_pull, certificates, resync), or replay for an operator's
	// replay of dead letters, or other for outcomes no kept run claims.
	Pipeline string `json:"pipeline"`
	// Start and End bound the run (End is zero while it runs). The
	// outcomes of its jobs arrive after End, as the queue delivers them.
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Error is why the run failed (empty: it succeeded).
	Error string `json:"error,omitempty"`
	// Runs counts the idle runs in a row (nothing read, queued or done,
	// the same error) this record stands for; absent: one.
	Runs int `json:"runs,omitempty"`
	// Unreadable counts the ERP records the run could not read (dead
	// letters of type erp.reject); they concern no platform in particular.
	Unreadable int `json:"unreadable,omitempty"`
	// Platforms are the counts per platform (one, customer_api).
	Platforms map[string]RunCounts `json:"platforms,omitempty"`
}

// RunCounts are a run's records on one platform.
type RunCounts struct {
	// Read counts the records the run read for the platform (ERP rows for
	// the ERP scans and the resync's ERP walk, platform records for a feed
	// poll, a listing walk or the resync's platform walk, bound customers
	// for the certificates run).
	Read int `json:"read"`
	// Queued counts the jobs the run queued for the platform.
	Queued int `json:"queued"`
	// The outcomes of the run's jobs: records created (on the platform, or
	// in the ERP from a platform record), updated, adopted (an existing
	// platform record bound instead of a create), deleted (a binding ended:
	// deleted, deactivated or unbound on the platform, unlinked or marked
	// deleted in the ERP), unchanged, and rejected (refused by the platform
	// or by the connector's checks: they went to the dead letters).
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Adopted   int `json:"adopted"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	Rejected  int `json:"rejected"`
}

// Zero reports whether nothing was counted.
func (c RunCounts) Zero() bool { return c == RunCounts{} }

// Idle reports whether the record counts nothing at all.
func (r RunRecord) Idle() bool {
	if r.Unreadable != 0 {
		return false
	}
	for _, c := range r.Platforms {
		if !c.Zero() {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of the record.
func (r RunRecord) Clone() RunRecord {
	if r.Platforms != nil {
		m := make(map[string]RunCounts, len(r.Platforms))
		for k, v := range r.Platforms {
			m[k] = v
		}
		r.Platforms = m
	}
	return r
}

// RunRetention bounds the run history: records that ended before Since go,
// and so do all but the newest PerPipeline records of each pipeline.
type RunRetention struct {
	Since       time.Time
	PerPipeline int
}

// Keep returns the records of recs (in id order) the retention keeps.
func (k RunRetention) Keep(recs []RunRecord) []RunRecord {
	seen := map[string]int{}
	var out []RunRecord
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		last := r.End
		if last.IsZero() {
			last = r.Start
		}
		if last.Before(k.Since) || k.PerPipeline > 0 && seen[r.Pipeline] >= k.PerPipeline {
			continue
		}
		seen[r.Pipeline]++
		out = append(out, r)
	}
	slices.Reverse(out)
	return out
}

func runKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Runs returns the kept run records in id order.
func (t *Tx) Runs() ([]RunRecord, error) {
	b := t.tx.Bucket(bktRuns)
	if b == nil {
		return nil, nil
	}
	var out []RunRecord
	err := b.ForEach(func(k, v []byte) error {
		var r RunRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("state: run %x: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// PutRuns stores run records (replacing those with the same id), deletes
// the records whose ids are in drop, then prunes the history to what keep
// retains. It returns the ids it pruned.
func (t *Tx) PutRuns(recs []RunRecord, drop []uint64, keep RunRetention) ([]uint64, error) {
	b, err := t.bucket(bktRuns)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("state: encode run %d: %w", r.ID, err)
		}
		if err := b.Put(runKey(r.ID), v); err != nil {
			return nil, fmt.Errorf("state: run %d: %w", r.ID, err)
		}
	}
	for _, id := range drop {
		if err := b.Delete(runKey(id)); err != nil {
			return nil, fmt.Errorf("state: run %d: %w", id, err)
		}
	}
	all, err := t.Runs()
	if err != nil {
		return nil, err
	}
	kept := map[uint64]bool{}
	for _, r := range keep.Keep(all) {
		kept[r.ID] = true
	}
	var pruned []uint64
	for _, r := range all {
		if !kept[r.ID] {
			pruned = append(pruned, r.ID)
		}
	}
	for _, id := range pruned {
		if err := b.Delete(runKey(id)); err != nil {
			return nil, fmt.Errorf("state: prune run %d: %w", id, err)
		}
	}
	return pruned, nil
}

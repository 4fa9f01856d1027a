package connector

import (
	"hash/maphash"
	"sync"

	"github.com/erpconnector/erpconnector/queue"
)

// handoff keeps, for the push jobs a scan of this process queued, the
// payload it encoded, so that their delivery in the same process does not
// decode the JSON again. The queue's bytes stay the truth: a job is handed
// its payload only when the bytes it carries are the very bytes queued
// (a job queued again for the same key, by another path or an earlier
// process, is decoded as always), and each payload is handed out once.
// The bytes are recognised by a 64-bit hash (of a seed random to the
// process), not kept: the decoded payloads are memory enough.
type handoff struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[string]handed // by job key
}

type handed struct {
	sum uint64 // maphash of the payload's bytes
	p   pushPayload
	// chunk are a chunk job's members' payloads (see chunk.go); a chunk
	// is handed only those still its members when it is delivered.
	chunk []pushPayload
}

// maxHandoff bounds the payloads kept: more than a scan lets the queue
// hold (maxHeld) plus what the pools have leased. Past it the map starts
// again (jobs that were never delivered here, such as purged ones, are
// forgotten that way).
const maxHandoff = 2 * maxHeld

// keep records the payloads of the upserts among jobs just committed to
// the queue; ps[i] is what jobs[i].Payload encodes (with its run). Only
// upserts go out as queued: every other push reads the ERP record again
// (and an invalid record's JSON may differ from what was read: invalid
// UTF-8 is encoded as U+FFFD).
func (h *handoff) keep(jobs []queue.Job, ps []pushPayload) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.room(len(jobs))
	for i, j := range jobs {
		if ps[i].Op == opUpsert {
			h.m[j.Key] = handed{sum: maphash.Bytes(h.seed, j.Payload), p: ps[i]}
		}
	}
}

// keepChunk records the payload of a chunk job just committed (its members
// are creates, which go out as queued).
func (h *handoff) keepChunk(job queue.Job, members []pushPayload) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.room(1)
	h.m[job.Key] = handed{sum: maphash.Bytes(h.seed, job.Payload), chunk: members}
}

// room makes room for n more payloads: past maxHandoff the map starts
// again. The caller holds mu.
func (h *handoff) room(n int) {
	if h.m == nil || len(h.m)+n > maxHandoff {
		if h.m == nil {
			h.seed = maphash.MakeSeed()
		}
		h.m = make(map[string]handed, n)
	}
}

// take returns the payload kept for job, if the job carries exactly the
// bytes queued, and forgets it either way.
func (h *handoff) take(job queue.Job) (pushPayload, bool) {
	e, ok := h.taken(job)
	if !ok || e.chunk != nil {
		return pushPayload{}, false
	}
	return e.p, true
}

// takeChunk is take for a chunk job: its members' payloads.
func (h *handoff) takeChunk(job queue.Job) ([]pushPayload, bool) {
	e, ok := h.taken(job)
	if !ok || e.chunk == nil {
		return nil, false
	}
	return e.chunk, true
}

func (h *handoff) taken(job queue.Job) (handed, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[job.Key]
	if !ok {
		return handed{}, false
	}
	delete(h.m, job.Key)
	return e, e.sum == maphash.Bytes(h.seed, job.Payload)
}

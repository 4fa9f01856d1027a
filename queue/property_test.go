package queue

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The model: a plain in-memory rendition of the store's rules.
type mJob struct {
	id       uint64
	key      string
	payload  string
	lane     Lane
	state    State
	attempts int
	next     time.Time
	deadline time.Time
	token    uint64 // the store's token of the current lease
}

type mKey struct{ pending, inflight uint64 }

type model struct {
	now        time.Time
	nextID     uint64
	jobs       map[uint64]*mJob
	keys       map[string]mKey
	dead       map[uint64]*mJob
	streak     int
	every      int
	maxAtt     int
	leaseFor   time.Duration
	payloadSeq int
}

func (m *model) setKey(k string, ks mKey) {
	if ks.pending == 0 && ks.inflight == 0 {
		delete(m.keys, k)
		return
	}
	m.keys[k] = ks
}

func (m *model) enqueue(key string, lane Lane, payload string) {
	ks := m.keys[key]
	if ks.pending != 0 {
		p := m.jobs[ks.pending]
		p.payload, p.lane, p.attempts = payload, lane, 0
		if p.state == StateReady && p.next.After(m.now) {
			p.next = m.now
		}
		return
	}
	m.nextID++
	j := &mJob{id: m.nextID, key: key, payload: payload, lane: lane, state: StateReady, next: m.now}
	if ks.inflight != 0 {
		j.state = StateWaiting
	}
	m.jobs[j.id] = j
	ks.pending = j.id
	m.setKey(key, ks)
}

func (m *model) releaseKey(j *mJob, next time.Time) {
	ks := m.keys[j.key]
	if ks.inflight == j.id {
		ks.inflight = 0
	}
	if ks.pending != 0 {
		if p := m.jobs[ks.pending]; p.state == StateWaiting {
			p.state, p.next = StateReady, next
		}
	}
	m.setKey(j.key, ks)
}

func (m *model) requeue(j *mJob, next time.Time) {
	ks := m.keys[j.key]
	if ks.pending != 0 {
		delete(m.jobs, j.id)
		m.releaseKey(j, next)
		return
	}
	j.state, j.next = StateReady, next
	m.setKey(j.key, mKey{pending: j.id})
}

func (m *model) bury(j *mJob) {
	delete(m.jobs, j.id)
	j.state = StateDead
	m.resolveDead(j.key) // one dead letter per key: the new one replaces it
	m.dead[j.id] = j
	m.releaseKey(j, m.now)
}

// resolveDead drops the dead letter of key (its record went through, or a
// newer failure replaces it).
func (m *model) resolveDead(key string) {
	for id, d := range m.dead {
		if d.key == key {
			delete(m.dead, id)
		}
	}
}

func (m *model) expire() {
	var ids []uint64
	for id, j := range m.jobs {
		if j.state == StateLeased && !j.deadline.After(m.now) {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		j := m.jobs[id]
		if j.attempts >= m.maxAtt {
			m.bury(j)
		} else {
			m.requeue(j, m.now)
		}
	}
}

func (m *model) candidates(lane Lane, n int) []*mJob {
	var out []*mJob
	for _, j := range m.jobs {
		if j.state == StateReady && j.lane == lane && !j.next.After(m.now) {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].next.Equal(out[b].next) {
			return out[a].next.Before(out[b].next)
		}
		return out[a].id < out[b].id
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (m *model) lease(n int) []*mJob {
	m.expire()
	live, back := m.candidates(LaneLive, n), m.candidates(LaneBackfill, n)
	var out []*mJob
	for len(out) < n && (len(live) > 0 || len(back) > 0) {
		var j *mJob
		if len(back) > 0 && (len(live) == 0 || m.streak >= m.every) {
			j, back = back[0], back[1:]
			m.streak = 0
		} else {
			j, live = live[0], live[1:]
			if len(back) > 0 {
				m.streak++
			}
		}
		j.state, j.attempts, j.deadline = StateLeased, j.attempts+1, m.now.Add(m.leaseFor)
		m.setKey(j.key, mKey{inflight: j.id})
		out = append(out, j)
	}
	return out
}

func (m *model) counts() Counts {
	var c Counts
	for _, j := range m.jobs {
		switch j.state {
		case StateReady:
			if j.next.After(m.now) {
				c.Scheduled++
			} else {
				c.Ready++
			}
		case StateWaiting:
			c.Waiting++
		case StateLeased:
			c.Leased++
		}
	}
	return c
}

func TestStoreStateMachineProperty(t *testing.T) {
	dir := t.TempDir()
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		ctx := context.Background()
		clk := newFakeClock()
		const every, maxAtt, leaseFor = 2, 3, time.Minute
		s, err := Open(filepath.Join(dir, fmt.Sprintf("p%d.db", runs)), Options{
			Clock: clk.Now, NoSync: true, BackfillEvery: every, MaxAttempts: maxAtt, LeaseTimeout: leaseFor,
		})
		if err != nil {
			rt.Fatal(err)
		}
		defer s.Close()
		m := &model{now: clk.Now(), jobs: map[uint64]*mJob{}, keys: map[string]mKey{}, dead: map[uint64]*mJob{},
			every: every, maxAtt: maxAtt, leaseFor: leaseFor}
		var held []Job // leases handed out, possibly stale
		keys := []string{"a", "b", "c", "d"}

		settle := func(rt *rapid.T, kind OutcomeKind, after time.Duration) {
			if len(held) == 0 {
				rt.Skip("nothing held")
			}
			i := rapid.IntRange(0, len(held)-1).Draw(rt, "held")
			h := held[i]
			held = slices.Delete(held, i, i+1)
			mj := m.jobs[h.ID]
			valid := mj != nil && mj.state == StateLeased && mj.token == h.LeaseToken && m.keys[mj.key].inflight == h.ID
			err := s.Settle(ctx, Outcome{Job: h, Kind: kind, After: after, Err: errors.New("boom")})
			if !valid {
				if !errors.Is(err, ErrLeaseLost) {
					rt.Fatalf("stale lease of job %d settled: %v", h.ID, err)
				}
				return
			}
			if err != nil {
				rt.Fatalf("settle: %v", err)
			}
			switch kind {
			case Ack:
				delete(m.jobs, mj.id)
				m.releaseKey(mj, m.now)
				m.resolveDead(mj.key)
			case Fail:
				m.bury(mj)
			case Release:
				mj.attempts--
				m.requeue(mj, m.now)
			case Retry:
				if mj.attempts >= m.maxAtt {
					m.bury(mj)
				} else {
					m.requeue(mj, m.now.Add(after))
				}
			}
		}

		rt.Repeat(map[string]func(*rapid.T){
			"enqueue": func(rt *rapid.T) {
				n := rapid.IntRange(1, 4).Draw(rt, "n")
				var jobs []Job
				for range n {
					m.payloadSeq++
					key := rapid.SampledFrom(keys).Draw(rt, "key")
					lane := Lane(rapid.IntRange(0, 1).Draw(rt, "lane"))
					p := fmt.Sprint(m.payloadSeq)
					jobs = append(jobs, Job{Type: "t", Key: key, Lane: lane, Payload: []byte(p)})
					m.enqueue(key, lane, p)
				}
				if err := s.Enqueue(ctx, jobs...); err != nil {
					rt.Fatal(err)
				}
			},
			"lease": func(rt *rapid.T) {
				n := rapid.IntRange(1, 3).Draw(rt, "n")
				got, err := s.Lease(ctx, n)
				if err != nil {
					rt.Fatal(err)
				}
				want := m.lease(n)
				if len(got) != len(want) {
					rt.Fatalf("leased %d jobs, model %d", len(got), len(want))
				}
				for i := range got {
					if got[i].ID != want[i].id || string(got[i].Payload) != want[i].payload || got[i].Attempts != want[i].attempts || got[i].Lane != want[i].lane {
						rt.Fatalf("lease %d: got id %d %q att %d lane %s; model id %d %q att %d lane %s", i,
							got[i].ID, got[i].Payload, got[i].Attempts, got[i].Lane, want[i].id, want[i].payload, want[i].attempts, want[i].lane)
					}
				}
				for i := range got {
					want[i].token = got[i].LeaseToken
				}
				held = append(held, got...)
			},
			"ack":     func(rt *rapid.T) { settle(rt, Ack, 0) },
			"fail":    func(rt *rapid.T) { settle(rt, Fail, 0) },
			"release": func(rt *rapid.T) { settle(rt, Release, 0) },
			"retry": func(rt *rapid.T) {
				settle(rt, Retry, rapid.SampledFrom([]time.Duration{time.Second, 90 * time.Second}).Draw(rt, "after"))
			},
			"advance": func(rt *rapid.T) {
				d := rapid.SampledFrom([]time.Duration{time.Second, 30 * time.Second, 2 * time.Minute}).Draw(rt, "d")
				clk.Advance(d)
				m.now = m.now.Add(d)
			},
			"expire": func(rt *rapid.T) {
				if _, err := s.ExpireLeases(ctx); err != nil {
					rt.Fatal(err)
				}
				m.expire()
			},
			"replay": func(rt *rapid.T) {
				res, err := s.Replay(ctx, DeadFilter{})
				if err != nil {
					rt.Fatal(err)
				}
				ids := make([]uint64, 0, len(m.dead))
				for id := range m.dead {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				replayed := 0
				for _, id := range ids {
					d := m.dead[id]
					delete(m.dead, id)
					if m.keys[d.key].pending != 0 {
						continue
					}
					m.enqueue(d.key, d.lane, d.payload)
					replayed++
				}
				if res.Replayed != replayed || res.Replayed+res.Superseded != len(ids) {
					rt.Fatalf("replay %+v, model replayed %d of %d", res, replayed, len(ids))
				}
			},
			"": func(rt *rapid.T) {
				st, err := s.Stats(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				if want := m.counts(); st.Counts != want {
					rt.Fatalf("counts %+v, model %+v", st.Counts, want)
				}
				if st.Dead != len(m.dead) {
					rt.Fatalf("dead %d, model %d", st.Dead, len(m.dead))
				}
				// Never two jobs of one key in flight.
				inflight := map[string]int{}
				for _, j := range m.jobs {
					if j.state == StateLeased {
						inflight[j.key]++
						if inflight[j.key] > 1 {
							rt.Fatalf("two jobs of key %s in flight", j.key)
						}
					}
				}
			},
		})
	})
}

package activation

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// TestRandomized steps activations with random commands, store outcomes (failures with an
// unknown outcome that did or did not apply, fencing by a ghost activation, failed loads) and
// time, against a model of the store, and checks what the protocol promises: every command is
// answered exactly once, at most MaxInFlight commits (or one renewal or load) are outstanding,
// an acknowledgement goes out only once the store has its change, the parked count is what
// waits, and every acknowledged placement, confirmation or cancellation is in the store with
// that status or one it may have moved on to.
//
// With a pipeline (MaxInFlight above 1), the model store applies the commits in the order they
// were asked for, refusing one whose version does not follow the stored one (as every store
// does), and their results come back in any order.
func TestRandomized(t *testing.T) {
	// A commit goes behind others only as a full batch (or with MinBehind decisions, behind):
	// small batches make the pipeline busy. MinBehind 1 with batches of up to 12 also seals
	// behind commits larger than 2×MinBehind, once as many wait as the one ahead carries.
	//
	// Every seed must reach two commits at once (when the pipeline allows two), and among the
	// seeds of each case both a quiet one (odd) and one that is not (even) must fill the
	// pipeline: per seed, the full depth is a matter of luck (round 15's packing of states
	// with a waitlist changed seed 3's path, which then reached 2 of 3).
	for _, tc := range []struct{ depth, batch, behind int }{{1, 4, 0}, {3, 1, 0}, {3, 2, 0}, {2, 6, 2}, {2, 12, 1}} {
		var deepest [2]int // even seeds, odd (quiet) seeds
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("pipeline%d/batch%d/behind%d/seed%d", tc.depth, tc.batch, tc.behind, seed), func(t *testing.T) {
				deepest[seed%2] = max(deepest[seed%2], runRandomized(t, seed, tc.depth, tc.batch, tc.behind))
			})
		}
		if deepest != [2]int{tc.depth, tc.depth} {
			t.Errorf("pipeline %d, batch %d, behind %d: at most %d commits at once with even seeds, %d with odd (quiet) ones: the test does not exercise the pipeline",
				tc.depth, tc.batch, tc.behind, deepest[0], deepest[1])
		}
	}
}

// modelStore is the store as the protocol sees it.
type modelStore struct {
	exists     bool
	epoch      uint64
	version    uint64
	resource   booking.Resource
	buckets    map[string]booking.Bucket
	holds      map[string]booking.Hold
	idem       map[string]booking.IdempotencyEntry
	waiting    map[string]booking.WaitlistEntry
	leaseUntil time.Time
	eventErrs  []string // how committed writes' events disagreed with their rows
	newHolds   int      // holds committed as new (Write.NewHolds)
	events     int
}

// checkEvents holds a committed write's events against its rows: ids by version and index,
// every changed hold described by events whose last image is the stored one and nothing
// else, and bucket events exactly where availability crossed 0 from what the store had.
func (s *modelStore) checkEvents(w Write) {
	bad := func(format string, args ...any) { s.eventErrs = append(s.eventErrs, fmt.Sprintf(format, args...)) }
	last := map[string]booking.Hold{}
	crossed := map[string]events.Type{}
	for i, e := range w.Events {
		if e.Version != w.Version || e.Index != i || e.ResourceID != w.Resource.ID {
			bad("event %s at %d of version %d", e.ID(), i, w.Version)
		}
		if _, err := events.Encode(&e); err != nil {
			bad("event %s does not encode: %v", e.ID(), err)
		}
		switch {
		case e.Hold != nil:
			last[e.Hold.ID] = *e.Hold
		case e.Bucket != nil:
			crossed[e.Bucket.Key] = e.Type
		}
	}
	if len(last) != len(w.Holds) {
		bad("version %d: %d holds changed, %d described by events", w.Version, len(w.Holds), len(last))
	}
	for _, h := range w.Holds {
		if l, ok := last[h.ID]; !ok || l.Status != h.Status || l.UpdatedAt != h.UpdatedAt {
			bad("version %d: hold %s stored %s, last event image %+v", w.Version, h.ID, h.Status, l)
		}
	}
	for _, b := range w.Buckets {
		before, ok := s.buckets[b.Key]
		want := events.Type("")
		switch {
		case !ok || w.Create:
		case before.Available() > 0 && b.Available() <= 0:
			want = events.BucketSoldOut
		case before.Available() <= 0 && b.Available() > 0:
			want = events.BucketAvailable
		}
		if crossed[b.Key] != want {
			bad("version %d: bucket %s from %+v to %+v: event %q, want %q", w.Version, b.Key, before, b, crossed[b.Key], want)
		}
		delete(crossed, b.Key)
	}
	if len(crossed) > 0 {
		bad("version %d: bucket events about unchanged buckets %v", w.Version, crossed)
	}
	s.events += len(w.Events)
}

// checkCommitted holds the core's committed state against the store when the core says it
// is what the store has (nothing at the store or pending, memory current, same version):
// every bucket and every hold memory knows is the stored one. A drained commit makes spec
// committed (onCommitted) instead of applying its events again; this is what says it was
// exactly the store's.
func (s *modelStore) checkCommitted(t *testing.T, seed uint64, st Status) {
	t.Helper()
	if st.Committed == nil || !s.exists || st.Memory != Current || st.Commits > 0 || st.InFlight > 0 || st.Pending > 0 ||
		st.Loading || st.Version != s.version || st.Epoch != s.epoch {
		return
	}
	for _, b := range st.Committed.Buckets() {
		if sb, ok := s.buckets[b.Key]; !ok || sb != b {
			t.Fatalf("seed %d: version %d: committed bucket %+v, store has %+v", seed, s.version, b, sb)
		}
	}
	for id, sh := range s.holds {
		if h, ok := st.Committed.Hold(id); ok && !reflect.DeepEqual(h, sh) {
			t.Fatalf("seed %d: version %d: committed hold %+v, store has %+v", seed, s.version, h, sh)
		}
	}
}

func (s *modelStore) commit(w Write) Outcome {
	switch {
	case w.Create && s.exists, !w.Create && (!s.exists || w.Epoch != s.epoch || w.Version != s.version+1):
		return Fenced
	case w.Create:
		s.exists, s.epoch = true, 1
	}
	s.checkEvents(w)
	// Holds[:NewHolds] are new to the store (persistence.Batch.NewHolds: PostgreSQL inserts
	// them without looking).
	if w.NewHolds < 0 || w.NewHolds > len(w.Holds) {
		s.eventErrs = append(s.eventErrs, fmt.Sprintf("version %d: %d new holds of %d", w.Version, w.NewHolds, len(w.Holds)))
	} else {
		s.newHolds += w.NewHolds
		for _, h := range w.Holds[:w.NewHolds] {
			if _, ok := s.holds[h.ID]; ok {
				s.eventErrs = append(s.eventErrs, fmt.Sprintf("version %d: hold %s said new is stored", w.Version, h.ID))
			}
		}
	}
	s.version, s.resource = w.Version, w.Resource
	for _, b := range w.Buckets {
		s.buckets[b.Key] = b
	}
	for _, h := range w.Holds {
		s.holds[h.ID] = h
	}
	for _, e := range w.Idempotency {
		if _, ok := s.idem[e.Key]; !ok {
			s.idem[e.Key] = e
		}
	}
	for _, e := range w.Waitlist {
		s.waiting[e.ID] = e
	}
	for _, id := range w.WaitlistRemoved {
		delete(s.waiting, id)
	}
	if !w.LeaseUntil.IsZero() {
		s.leaseUntil = w.LeaseUntil
	}
	return Committed
}

func (s *modelStore) load(id uint64) LoadResult {
	if !s.exists {
		return LoadResult{ID: id}
	}
	s.epoch++
	r := LoadResult{ID: id, Exists: true, Epoch: s.epoch, Version: s.version, Resource: s.resource, LeaseUntil: s.leaseUntil}
	for _, b := range s.buckets {
		r.Buckets = append(r.Buckets, b)
	}
	for _, h := range s.holds {
		if h.Status.Active() {
			r.Holds = append(r.Holds, h)
		}
	}
	for _, e := range s.idem {
		r.Idempotency = append(r.Idempotency, e)
	}
	for _, e := range s.waiting {
		r.Waitlist = append(r.Waitlist, e)
	}
	slices.SortFunc(r.Waitlist, func(a, b booking.WaitlistEntry) int { return int(a.Seq) - int(b.Seq) })
	return r
}

// hasEntry reports whether the store has entry id waiting, or a hold offered to it.
func (s *modelStore) hasEntry(id string) bool {
	if _, ok := s.waiting[id]; ok {
		return true
	}
	for _, h := range s.holds {
		if h.WaitlistEntryID == id {
			return true
		}
	}
	return false
}

// randomJoin is a join with one of a few Idempotency-Keys; the request is a function of the
// key, so that the same key is always a retry of the same join.
func randomJoin(rng *rand.Rand, offer, entry string) booking.JoinWaitlist {
	k := rng.IntN(8)
	return booking.JoinWaitlist{EntryID: entry, OfferHoldID: offer, IdempotencyKey: fmt.Sprintf("j%d", k),
		UserID: fmt.Sprintf("w%d", k), Buckets: []string{[]string{"a", "b"}[k%2]}, Quantity: int64(1 + k%3/2)}
}

// later lists the statuses an acknowledged status may have moved on to.
var later = map[booking.Status][]booking.Status{
	booking.StatusHeld:      {booking.StatusHeld, booking.StatusConfirmed, booking.StatusCancelled, booking.StatusExpired},
	booking.StatusConfirmed: {booking.StatusConfirmed, booking.StatusCancelled},
	booking.StatusCancelled: {booking.StatusCancelled},
}

// runRandomized runs one seed and returns the most commits that were at the store at once.
func runRandomized(t *testing.T, seed uint64, depth, batch, behind int) int {
	rng := rand.New(rand.NewPCG(seed, 7))
	store := &modelStore{buckets: map[string]booking.Bucket{}, holds: map[string]booking.Hold{}, idem: map[string]booking.IdempotencyEntry{},
		waiting: map[string]booking.WaitlistEntry{}}
	cfg := Config{ResourceID: "r", MaxPending: 50, MaxBatch: batch, IdleTimeout: time.Hour, CommitTimeout: 5 * time.Second,
		MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: 4 * time.Second, MaxClockOffset: 500 * time.Millisecond,
		MaxInFlight: depth, MinBehind: behind}
	// Odd seeds pack quiet activations (quiet.go): a state packed between the random steps'
	// commands and Ticks must decide and commit as the graph would.
	quietSteps, quietWaiting := 0, 0 // steps that left the state packed, with entries waiting
	if seed%2 == 1 {
		cfg.QuietAfter = 1500 * time.Millisecond
	}
	now := time.UnixMilli(1_900_000_000_000).UTC()
	acked := map[string]booking.Status{}
	var ids []string // holds placed, for confirms and cancels
	nextHold := 0
	deepest := 0 // the most commits at the store at once
	// entryOf is the entry each join key was answered with: one key, one entry, whatever the
	// store did (a retry of a join is never a second entry); joins counts those answers.
	entryOf := map[string]string{}
	joins := 0

	for life := 0; life < 12; life++ {
		core, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var (
			cmds      []*Command
			answered  = map[*Command]bool{}
			commits   []Commit       // asked for, not yet at the store, in order
			results   []CommitResult // applied (or lost), not yet reported
			renewal   *Renewal
			load      *Load
			lookups   []Lookup
			wake      time.Time
			stopAsked bool
		)
		step := func(in Input) {
			rd := core.Step(now, in)
			if core.Quiet() {
				quietSteps++
				if core.Waiting() > 0 {
					quietWaiting++
				}
				// The waitlist gauge's count, read from the packed form's header, is the
				// packed state's (Status unpacks a copy).
				if st := core.Status(now); st.Committed == nil || core.Waiting() != st.Committed.WaitlistLen() {
					t.Fatalf("seed %d: a quiet core says %d waiting, its packed state %v", seed, core.Waiting(), st.Committed)
				}
				if core.work != nil {
					t.Fatalf("seed %d: a quiet core kept its work after a Step (work.go)", seed)
				}
			} else if core.work == nil {
				t.Fatalf("seed %d: a core that is not quiet has no work after a Step", seed)
			}
			for _, r := range rd.Replies {
				c := r.To.(*Command)
				if answered[c] {
					t.Fatalf("seed %d: command %+v answered twice", seed, c.Op)
				}
				answered[c] = true
				a := r.Answer
				if a.Err != nil || a.Stale || a.Resource != nil {
					continue
				}
				switch op := c.Op.(type) {
				case booking.JoinWaitlist:
					id := a.Entry.Entry.ID
					if prev, ok := entryOf[op.IdempotencyKey]; ok && prev != id {
						t.Fatalf("seed %d: join key %s answered entry %s, earlier %s", seed, op.IdempotencyKey, id, prev)
					}
					if !store.hasEntry(id) {
						t.Fatalf("seed %d: join entry %s acknowledged before the store has it", seed, id)
					}
					entryOf[op.IdempotencyKey] = id
					joins++
				case booking.PlaceHold, booking.ConfirmHold, booking.CancelHold:
					if !a.Replayed {
						acked[a.Hold.ID] = a.Hold.Status
					}
					// An acknowledgement goes out only once its commit applied: with a
					// pipeline, never before the commits ahead of it.
					if h, ok := store.holds[a.Hold.ID]; later[a.Hold.Status] != nil && (!ok || !slices.Contains(later[a.Hold.Status], h.Status)) {
						t.Fatalf("seed %d: hold %s acknowledged %s to %T before the store has it (%+v)", seed, a.Hold.ID, a.Hold.Status, c.Op, h)
					}
				}
			}
			// A load may start while commits given up on are still at the store (the load
			// fences them); nothing else overlaps a load or a renewal.
			if (len(rd.Commits) > 0 || rd.Renewal.ID != 0 || rd.Load.ID != 0) && (renewal != nil || load != nil) {
				t.Fatalf("seed %d: a store call started while a renewal or load is outstanding", seed)
			}
			if rd.Renewal.ID != 0 && len(rd.Commits)+len(commits)+len(results) > 0 {
				t.Fatalf("seed %d: a renewal started with commits outstanding", seed)
			}
			commits = append(commits, rd.Commits...)
			if n := core.Status(now).Commits; n > depth {
				t.Fatalf("seed %d: %d commits at the store, pipeline %d", seed, n, depth)
			} else if n > deepest {
				deepest = n
			}
			if rd.Renewal.ID != 0 {
				r := rd.Renewal
				renewal = &r
			}
			if rd.Load.ID != 0 {
				l := rd.Load
				load = &l
			}
			lookups = append(lookups, rd.Lookups...)
			wake = rd.WakeAt
			stopAsked = stopAsked || rd.StopSelf
			waiting := 0
			for _, c := range cmds {
				if !answered[c] && c.parked {
					waiting++
				}
			}
			if waiting != core.Parked() {
				t.Fatalf("seed %d: parked %d, %d commands wait", seed, core.Parked(), waiting)
			}
			store.checkCommitted(t, seed, core.Status(now))
		}
		resolve := func(failures bool) bool {
			switch {
			case len(results) > 0 && (len(commits) == 0 || rng.IntN(2) == 0):
				// Report any result: a later commit's may come before an earlier one's.
				i := rng.IntN(len(results))
				r := results[i]
				results = append(results[:i], results[i+1:]...)
				step(r)
			case len(commits) > 0:
				// The store takes the first commit asked for: it applies them in order.
				c := commits[0]
				commits = commits[1:]
				o := Committed
				if failures && rng.IntN(8) == 0 {
					o = Unknown // a timeout: the write applied or not, nobody knows
				}
				if o == Unknown && rng.IntN(2) == 0 {
					// lost before it reached the store
				} else if store.commit(c.Write) == Fenced && o == Committed {
					o = Fenced
				}
				results = append(results, CommitResult{ID: c.ID, Outcome: o})
			case renewal != nil:
				r := *renewal
				renewal = nil
				o := Committed
				if failures && rng.IntN(8) == 0 {
					o = Unknown
				}
				if !store.exists || r.Epoch != store.epoch {
					o = Fenced
				} else if o == Committed {
					store.leaseUntil = r.Until
				}
				step(RenewalResult{ID: r.ID, Outcome: o})
			case load != nil:
				l := *load
				load = nil
				if failures && rng.IntN(6) == 0 {
					step(LoadResult{ID: l.ID, Failed: true})
				} else {
					step(store.load(l.ID))
				}
			case len(lookups) > 0:
				l := lookups[0]
				lookups = lookups[1:]
				h, ok := store.holds[l.HoldID]
				r := LookupResult{For: l.For, HoldID: l.HoldID, Status: LookupNotFound}
				if ok {
					r.Status, r.Hold = LookupFound, h
				}
				step(r)
			case !wake.IsZero():
				if wake.After(now) {
					now = wake
				}
				step(Tick{})
			default:
				return false
			}
			return true
		}

		step(Start{})
		for i := 0; i < 600 && !stopAsked; i++ {
			switch p := rng.IntN(100); {
			case p < 45:
				c := &Command{Queued: rng.IntN(3)}
				c.To = c
				switch q := rng.IntN(12); {
				case q >= 10 && len(ids) > 0:
					nextHold++
					offer := fmt.Sprintf("h%d", nextHold)
					j := randomJoin(rng, offer, fmt.Sprintf("e%d", nextHold))
					c.Op = j
					ids = append(ids, offer) // confirmed or cancelled once offered
					if e, ok := entryOf[j.IdempotencyKey]; ok && q == 11 {
						c.Op = booking.LeaveWaitlist{EntryID: e, UserID: j.UserID}
					}
				case q < 4 || len(ids) == 0:
					nextHold++
					id := fmt.Sprintf("h%d", nextHold)
					ph := booking.PlaceHold{HoldID: id, Buckets: []string{[]string{"a", "b"}[rng.IntN(2)]}, Quantity: int64(1 + rng.IntN(2)), UserID: "u"}
					if rng.IntN(2) == 0 {
						ph.IdempotencyKey = fmt.Sprintf("k%d", rng.IntN(20))
					}
					c.Op = ph
					ids = append(ids, id)
				case q < 6:
					c.Op = booking.ConfirmHold{HoldID: ids[rng.IntN(len(ids))]}
				case q < 8:
					c.Op = booking.CancelHold{HoldID: ids[rng.IntN(len(ids))]}
				case q < 9:
					c.Op = GetHold{HoldID: ids[rng.IntN(len(ids))]}
				default:
					c.Op = GetResource{}
				}
				if !store.exists && rng.IntN(2) == 0 {
					c.Op = booking.CreateResource{ID: "r", Name: "R", Buckets: map[string]int64{"a": 3, "b": 4}}
				}
				cmds = append(cmds, c)
				step(c)
			case p < 90:
				resolve(true)
			case p < 97:
				now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				step(Tick{})
			case p < 99:
				now = now.Add(4 * time.Minute) // holds expire, leases lapse
			case rng.IntN(3) == 0:
				if store.exists {
					store.epoch++ // a ghost activation took over
				}
			}
		}
		step(Stop{})
		for !core.Stopped() {
			if !resolve(false) {
				t.Fatalf("seed %d: stopping with nothing to wait for (phase %s)", seed, core.Phase())
			}
		}
		for _, c := range cmds {
			if !answered[c] {
				t.Fatalf("seed %d: command %+v never answered", seed, c.Op)
			}
		}
	}

	for id, st := range acked {
		h, ok := store.holds[id]
		if !ok {
			t.Errorf("seed %d: acknowledged hold %s (%s) is not in the store", seed, id, st)
			continue
		}
		okStatus := false
		for _, s := range later[st] {
			okStatus = okStatus || h.Status == s
		}
		if !okStatus {
			t.Errorf("seed %d: hold %s acknowledged %s, store has %s", seed, id, st, h.Status)
		}
	}
	used := map[string]int64{}
	for _, h := range store.holds {
		if h.Status.Active() {
			for _, k := range h.Buckets {
				used[k] += h.Quantity
			}
		}
	}
	for k, b := range store.buckets {
		if used[k] > b.Capacity || b.Held+b.Confirmed != used[k] {
			t.Errorf("seed %d: bucket %s: %+v, holds use %d", seed, k, b, used[k])
		}
	}
	for _, e := range store.eventErrs {
		t.Errorf("seed %d: %s", seed, e)
	}
	if len(store.holds) > 0 && store.newHolds == 0 {
		t.Errorf("seed %d: %d holds stored, none of them committed as new", seed, len(store.holds))
	}
	if cfg.QuietAfter > 0 && quietSteps == 0 {
		t.Errorf("seed %d: QuietAfter %v and no step left the state packed: the test does not exercise it", seed, cfg.QuietAfter)
	}
	if cfg.QuietAfter > 0 && quietWaiting == 0 {
		t.Errorf("seed %d: no step left the state packed with entries waiting: the test does not exercise it", seed)
	}
	if deepest < min(depth, 2) {
		t.Errorf("seed %d: at most %d commits were at the store at once, pipeline %d: the test does not exercise it", seed, deepest, depth)
	}
	t.Logf("seed %d: %d holds acknowledged, %d in the store, %d events, epoch %d, %d commits at once, %d joins answered for %d keys, %d steps left it packed, %d of them with entries waiting",
		seed, len(acked), len(store.holds), store.events, store.epoch, deepest, joins, len(entryOf), quietSteps, quietWaiting)
	return deepest
}

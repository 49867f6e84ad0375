package activation

import (
	"math/bits"
	"slices"
	"time"

	"github.com/allot/allot/actors/booking"
)

// decision is one decided command (or one expiry) waiting for a commit.
//
// The after-images are taken from spec right after the decision's events were applied.
// Invariant: when the commit holding a decision is sealed, every decision before it is
// committed or in a commit ahead of it at the store, so spec at that moment was exactly the
// store's state before the commit plus the commit's decisions up to this one; the last image of a key within a commit is therefore its
// committed value after the commit, and answer is the committed answer at the decision's
// place in the order (see the package doc, Group commit).
type decision struct {
	cmd    *Command // nil for an expiry
	events []booking.Event
	holds  []booking.Hold
	// placed has bit i set when holds[i] is a hold this decision placed (new: no earlier
	// decision wrote it); holds past the 64th are never marked, and are written as changed.
	placed  uint64
	buckets []booking.Bucket
	res     *booking.Resource // set by a creation or an update
	idem    *booking.IdempotencyEntry
	joined  []booking.WaitlistEntry // entries that joined the waitlist
	removed []string                // entries that left it or were offered units
	create  bool
	answer  Answer // sent on commit; a resource answer's version is set then, unless asOf
	// asOf marks an answer computed from committed that waits only for the lease
	// (fromMemory): it is complete, version included.
	asOf bool
}

// flight is what is at the store: a group commit, or a renewal (renewal set; its decisions
// are answers from memory waiting for the lease).
type flight struct {
	id        uint64
	decisions []*decision
	renewal   bool
	sent      time.Time // when it was started: the lease runs from here
	version   uint64    // after a commit
	create    bool
	// What a commit wrote that a later commit, sealed while this one is at the store, builds
	// on: the resource and the bucket after-images (see write).
	res     booking.Resource
	buckets []booking.Bucket
	// ended is set when the commit's result came before the results of the commits ahead of
	// it; outcome is that result, applied once they are (see onCommitResult).
	ended   bool
	outcome Outcome
}

// captureRoom is room for a command's after-images in its decision's own block: one hold,
// one bucket and an idempotency entry, what a durable hold of one night captures (three
// allocations per hold before; issue 17, CPU per hold). More spill to the heap as before.
type captureRoom struct {
	hold   [1]booking.Hold
	bucket [1]booking.Bucket
	idem   booking.IdempotencyEntry
}

// roomyDecision is a command's decision with its capture room, allocated together. Only
// &roomyDecision.decision is handed around; a decision is never copied, so its slices into
// room stay its own.
type roomyDecision struct {
	decision
	room captureRoom
}

// capture records d's after-images from spec, into room (nil: none) while they fit. A list
// left empty stays nil, as without room.
func (c *Core) capture(d *decision, room *captureRoom) {
	// The buckets whose after-images d takes: a hold names a few, so they are gathered on
	// the stack (a heap slice here was one allocation per hold; issue 17, CPU per hold).
	var keyBuf [8]string
	keys := keyBuf[:0]
	hold := func(id string, placed bool) {
		h, ok := c.spec.Hold(id)
		if !ok {
			panic("activation: event about unknown hold " + id)
		}
		if d.holds == nil && room != nil {
			d.holds = room.hold[:0:len(room.hold)]
		}
		if placed && len(d.holds) < 64 {
			d.placed |= 1 << len(d.holds)
		}
		d.holds = append(d.holds, h)
		keys = append(keys, h.Buckets...)
	}
	keep := func(ie booking.IdempotencyEntry) {
		if room != nil {
			room.idem = ie
			d.idem = &room.idem
			return
		}
		d.idem = &ie
	}
	for _, ev := range d.events {
		switch ev := ev.(type) {
		case booking.ResourceCreated:
			d.create = true
			for _, b := range ev.Buckets {
				keys = append(keys, b.Key)
			}
		case booking.ResourceUpdated:
			keys = append(keys, ev.ChangedBuckets()...) // capacities and allowances
		case booking.HoldPlaced:
			hold(ev.Hold.ID, true)
			if k := ev.Hold.IdempotencyKey; k != "" {
				if ie, ok := c.spec.Idempotency(k); ok {
					keep(ie)
				}
			}
		case booking.HoldConfirmed:
			hold(ev.HoldID, false)
		case booking.HoldCancelled:
			hold(ev.HoldID, false)
		case booking.HoldExpired:
			hold(ev.HoldID, false)
		case booking.HoldExtended:
			hold(ev.HoldID, false)
			if k := ev.IdempotencyKey; k != "" { // recorded with the renewal, as a hold's key
				if ie, ok := c.spec.Idempotency(k); ok {
					keep(ie)
				}
			}
		case booking.PaymentRecorded, booking.HoldRetaken: // payment.go
			hold(paymentEventHold(ev), false)
		case booking.WaitlistJoined:
			d.joined = append(d.joined, ev.Entry)
			if k := ev.IdempotencyKey; k != "" { // recorded with the join, as a hold's key
				if ie, ok := c.spec.Idempotency(k); ok {
					keep(ie)
				}
			}
		case booking.WaitlistLeft:
			d.removed = append(d.removed, ev.EntryID)
		case booking.WaitlistOffered:
			d.removed = append(d.removed, ev.EntryID) // its HoldPlaced follows: the offer's hold
		}
		switch ev.(type) {
		case booking.ResourceCreated, booking.ResourceUpdated, booking.ResourceArchived:
			r, _ := c.spec.Resource()
			d.res = &r
		}
	}
	for _, k := range keys {
		if b, ok := c.spec.Bucket(k); ok {
			if d.buckets == nil && room != nil {
				d.buckets = room.bucket[:0:len(room.bucket)]
			}
			d.buckets = append(d.buckets, b)
		}
	}
}

// expire moves spec's due holds to expired, each as a pending decision without a reply.
//
// When the freed units are offered to the waitlist, the expiries and their offers are one
// decision, so that one commit stores them all or none: an expiry committed without its offers
// would leave units free that a waiting entry fits, and a reload would not offer them again
// (the store has the hold expired already).
func (c *Core) expire(t time.Time) {
	evs := c.spec.ExpireDue(t)
	if len(evs) > 0 {
		c.ownSpec()
	}
	if offers(evs) {
		for _, ev := range evs {
			c.spec.Apply(ev)
		}
		d := &decision{events: evs}
		c.capture(d, nil)
		c.pending = append(c.pending, d)
		return
	}
	for _, ev := range evs {
		c.spec.Apply(ev)
		d := &decision{events: []booking.Event{ev}}
		c.capture(d, nil)
		c.pending = append(c.pending, d)
	}
}

// offers reports whether evs make an offer from the waitlist.
func offers(evs []booking.Event) bool {
	for _, ev := range evs {
		if _, ok := ev.(booking.WaitlistOffered); ok {
			return true
		}
	}
	return false
}

// flush seals up to MaxBatch pending decisions into one commit, and again while fewer than
// MaxInFlight commits are at the store (a pipeline: each commit is decided on top of the ones
// before it; see onCommitResult). Runs of decisions without events are answered at once (or
// after a renewal) when nothing is at the store, since all they depend on is committed; with
// commits at the store they wait for them.
//
// A commit goes behind others only as a full batch, with MinBehind decisions behind a commit
// of at most 2×MinBehind, or behind a larger commit with as many as it carries (sealBehind):
// a store applies one resource's commits one after the other, so sealing what trickles in as
// small commits behind the one at the store splits the next batch into several, each a write
// of its own (measured on SQLite: pipelines of small batches were no faster, deeper ones
// slower). On PostgreSQL a commit waiting behind the one in flight saves the round trip
// through the actor between them, and 16 decisions pay for it. Behind a larger commit, sealing
// a few only splits what waits into more commits (CPU per hold, measured over HTTP at 256
// clients; docs/PERFORMANCE.md, round 11); but without any commit behind it the store waits
// for the actor's turnaround after every large commit (at 256 clients one commit of about 100
// was at the store 0.98 of the time, its backend waiting for the node 14-33% of it; round 19).
// A commit behind a large one as large as it keeps the store's queue fed with commits of one
// size taking turns, without splitting them smaller.
func (c *Core) flush(now time.Time) {
	for c.canSeal() && c.load == nil && len(c.pending) > 0 && c.phase != Dead {
		if len(c.flights) > 0 && !c.sealBehind() {
			return // not a full batch: it waits for the commits at the store
		}
		if c.phase == Stopping && now.After(c.stopBy()) {
			c.failDecisions(c.pending, errStopped)
			c.pending = nil
			return
		}
		if c.memory == Uncertain {
			if len(c.flights) == 0 && !c.backingOff() {
				c.startLoad(now)
			}
			return
		}
		n := min(len(c.pending), c.cfg.MaxBatch)
		sealed := c.pending[:n:n]
		if !hasEvents(sealed) {
			if len(c.flights) > 0 {
				return // answers that depend on the commits at the store
			}
			c.unpend(n)
			// Answers that only waited for earlier commits; from memory, so under the lease.
			if c.answersFromMemory() {
				c.answerDecisions(sealed, c.version)
				continue
			}
			c.startRenewal(now, sealed)
			return
		}
		c.unpend(n)
		c.startCommit(now, sealed)
	}
}

// sealBehind reports whether the pending decisions go behind the commits at the store: a full
// batch, MinBehind of them behind a commit of at most 2×MinBehind, or behind a larger commit
// as many as it carries (not fewer: splitting what waits behind a large commit into smaller
// ones only costs more commits; as many keep two commits of one size taking turns).
func (c *Core) sealBehind() bool {
	if len(c.pending) >= c.cfg.MaxBatch {
		return true
	}
	m := c.cfg.MinBehind
	if m <= 0 || len(c.pending) < m {
		return false
	}
	ahead := len(c.flights[len(c.flights)-1].decisions)
	return ahead <= 2*m || len(c.pending) >= ahead
}

// unpend drops the first n pending decisions, which were sealed.
func (c *Core) unpend(n int) {
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil
	}
}

// canSeal reports whether another commit may go to the store: nothing is there, or fewer
// than MaxInFlight commits (never on top of a renewal).
func (c *Core) canSeal() bool {
	return len(c.flights) == 0 || (!c.flights[0].renewal && len(c.flights) < c.cfg.MaxInFlight)
}

func hasEvents(ds []*decision) bool {
	for _, d := range ds {
		if len(d.events) > 0 {
			return true
		}
	}
	return false
}

// write merges the decisions' after-images: the last image of each key wins. It builds on
// the commits at the store: its version follows the last one's, a resource that one created
// is at epoch 1, and a resource no decision here changed is the last one written.
func (c *Core) write(ds []*decision) Write {
	w := Write{Epoch: c.epoch, Version: c.version + 1}
	var res *booking.Resource
	for _, f := range c.flights {
		w.Version = f.version + 1
		res = &f.res
		if f.create {
			w.Epoch = 1 // a creation inserts the resource at epoch 1
		}
	}
	// Sized for the batch at once: a Hold is a few hundred bytes, and growing the slice by
	// appends copied a batch's holds several times over.
	holds, keys := 0, 0
	for _, d := range ds {
		holds += len(d.holds)
		if d.idem != nil {
			keys++
		}
	}
	// The holds placed here come first (Write.NewHolds), in decision order; then the
	// changed ones. A hold placed and changed within the batch is placed: its last image
	// takes its place among them.
	placed := 0
	for _, d := range ds {
		placed += bits.OnesCount64(d.placed)
	}
	if holds > 0 {
		w.Holds = make([]booking.Hold, placed, holds)
	}
	w.NewHolds = placed
	nextPlaced := 0
	if keys > 0 {
		w.Idempotency = make([]booking.IdempotencyEntry, 0, keys)
	}
	// holdAt finds a hold's image in w.Holds by id, made at the first hold that is not a
	// placement (a change, which may be of a hold placed earlier in the batch, or changed
	// twice). Until then every image is a placement, and placements have ids new to the
	// state, so none can repeat one before it: a batch of placements only, what a hot
	// resource commits, builds no map (a string-keyed insert per hold and the map's table per
	// batch; issue 17, round 20).
	var holdAt, bucketAt map[string]int
	for _, d := range ds {
		w.Create = w.Create || d.create
		if d.res != nil {
			res = d.res
		}
		for j, h := range d.holds {
			placed := j < 64 && d.placed&(1<<j) != 0 // placed is never marked beyond 64
			if holdAt == nil && !placed {
				holdAt = make(map[string]int, holds)
				for i := range nextPlaced {
					holdAt[w.Holds[i].ID] = i
				}
			}
			if holdAt == nil {
				w.Holds[nextPlaced] = h
				nextPlaced++
				continue
			}
			switch i, ok := holdAt[h.ID]; {
			case ok:
				w.Holds[i] = h
			case placed:
				holdAt[h.ID] = nextPlaced
				w.Holds[nextPlaced] = h
				nextPlaced++
			default:
				holdAt[h.ID] = len(w.Holds)
				w.Holds = append(w.Holds, h)
			}
		}
		for _, bk := range d.buckets {
			// A batch names a bucket or a few: found by a scan up to maxBucketScan, by a map
			// (made once) past it.
			i := -1
			if bucketAt != nil {
				if j, ok := bucketAt[bk.Key]; ok {
					i = j
				}
			} else {
				i = slices.IndexFunc(w.Buckets, func(b booking.Bucket) bool { return b.Key == bk.Key })
			}
			if i >= 0 {
				w.Buckets[i] = bk
				continue
			}
			w.Buckets = append(w.Buckets, bk)
			switch {
			case bucketAt != nil:
				bucketAt[bk.Key] = len(w.Buckets) - 1
			case len(w.Buckets) > maxBucketScan:
				bucketAt = make(map[string]int, len(w.Buckets))
				for j, b := range w.Buckets {
					bucketAt[b.Key] = j
				}
			}
		}
		if d.idem != nil {
			w.Idempotency = append(w.Idempotency, *d.idem)
		}
		// An entry joins at most once (its id is new) and leaves at most once, so plain
		// appends hold no duplicates; the store removes after upserting.
		w.Waitlist = append(w.Waitlist, d.joined...)
		w.WaitlistRemoved = append(w.WaitlistRemoved, d.removed...)
	}
	if res == nil {
		r, _ := c.committed.Resource()
		res = &r
	}
	w.Resource = *res
	w.Events = c.batchEvents(ds, w.Version, w.Buckets)
	return w
}

// maxBucketScan is the most bucket images write finds by a scan (see write).
const maxBucketScan = 8

func (c *Core) startCommit(now time.Time, ds []*decision) {
	c.nextID++
	w := c.write(ds)
	w.LeaseUntil = c.leaseUntil(now)
	c.flights = append(c.flights, &flight{id: c.nextID, decisions: ds, sent: now, version: w.Version, create: w.Create,
		res: w.Resource, buckets: w.Buckets})
	c.rd.Commits = append(c.rd.Commits, Commit{ID: c.nextID, Write: w, Timeout: c.opTimeout(now), Size: len(ds)})
}

// opTimeout bounds one store call; a stopping activation also keeps within its stop deadline.
func (c *Core) opTimeout(now time.Time) time.Duration {
	d := c.cfg.CommitTimeout
	if c.phase == Stopping {
		d = min(d, max(c.stopBy().Sub(now), time.Millisecond))
	}
	return d
}

// onCommitResult learns how a commit at the store ended. Results are applied in the order
// the commits were asked for: one that ends before the commits ahead of it waits for them,
// since it was decided on top of them (the shell may deliver results out of order; the store
// applies the commits of one resource in order).
func (c *Core) onCommitResult(now time.Time, in CommitResult) {
	found := false
	for _, f := range c.flights {
		if f.id == in.ID && !f.renewal && !f.ended {
			f.ended, f.outcome, found = true, in.Outcome, true
		}
	}
	if !found {
		return // a commit given up on (a failure ahead of it), or a duplicate
	}
	for len(c.flights) > 0 && c.flights[0].ended && c.alive() {
		f := c.flights[0]
		c.flights[0] = nil
		c.flights = c.flights[1:]
		if len(c.flights) == 0 {
			c.flights = nil
		}
		c.onCommitted(now, f)
	}
	c.flush(now)
	c.armExpiry()
}

// onCommitted applies how the first commit at the store, f, ended.
func (c *Core) onCommitted(now time.Time, f *flight) {
	switch f.outcome {
	case Committed:
		// spec is committed plus f, when f was the last commit at the store and nothing is
		// pending: it becomes committed, instead of f's events being applied to committed a
		// second time (shareSpec would drop spec's copy at the end of the step anyway). Not
		// while stopping, where pending decisions may have been dropped past the stop's
		// deadline with their effects on spec; nor for a state that shareSpec keeps apart.
		adopt := len(c.flights) == 0 && len(c.pending) == 0 && c.spec != c.committed && c.memory == Current &&
			c.phase != Stopping && c.spec.HoldCount() <= shareSpecMaxHolds
		for _, d := range f.decisions {
			for _, ev := range d.events {
				if !adopt {
					c.committed.Apply(ev)
				}
				c.note(ev)
			}
		}
		if adopt {
			c.committed = c.spec
		}
		c.version = f.version
		if f.create {
			c.epoch = 1 // a creation inserts the resource at epoch 1
		}
		c.granted(f.sent)
		c.answerDecisions(f.decisions, c.version)
	case Fenced:
		// The commits behind it were decided on top of it: die fails them too.
		c.rd.Notes.Fenced = true
		c.failDecisions(f.decisions, errMoved)
		c.die()
	default:
		// The outcome is unknown, and so is that of every commit behind it, which was decided
		// on top of it (and is still at the store: the reload fences it, or finds it applied).
		// Their writes learn they failed; their answers without events of their own (which
		// only waited for the writes before them) and the pending commands are decided again
		// from committed; the next commit waits for a reload.
		failed := append([]*flight{f}, c.flights...)
		c.flights = nil
		var again []*decision
		for _, f := range failed {
			for _, d := range f.decisions {
				switch {
				case len(d.events) > 0 && d.cmd != nil:
					c.fail(d.cmd, errNotCommitted)
				case len(d.events) == 0:
					again = append(again, d)
				}
			}
		}
		c.pending = append(again, c.pending...)
		c.memory = Uncertain
		c.spec = c.committed // shared until the next change (ownSpec)
		c.redecide(now)
		c.startLoad(now) // at once, pending or not: memory learns what the store has, ghosts are fenced
	}
}

func (c *Core) note(ev booking.Event) {
	switch ev.(type) {
	case booking.HoldPlaced:
		c.rd.Notes.Placed++
	case booking.HoldConfirmed:
		c.rd.Notes.Confirmed++
	case booking.HoldCancelled:
		c.rd.Notes.Cancelled++
	case booking.HoldExpired:
		c.rd.Notes.Expired++
	case booking.HoldExtended:
		c.rd.Notes.Extended++
	case booking.WaitlistJoined:
		c.rd.Notes.Joined++
	case booking.WaitlistLeft:
		c.rd.Notes.Left++
	case booking.WaitlistOffered:
		c.rd.Notes.Offered++
	}
}

// answerDecisions sends the answers prepared at decision time.
func (c *Core) answerDecisions(ds []*decision, version uint64) {
	// Room for a batch's replies at once: an idle activation's Ready starts without any
	// (Ready.Clear), and a Reply carries a whole hold.
	c.rd.Replies = slices.Grow(c.rd.Replies, len(ds))
	for _, d := range ds {
		if d.cmd == nil {
			continue
		}
		if d.answer.Resource != nil && !d.asOf {
			d.answer.Resource.Version = version
		}
		c.send(d.cmd, d.answer)
	}
}

// redecide decides every pending command again against spec, after spec was rebuilt from
// committed. Pending expiries are dropped and found again.
func (c *Core) redecide(now time.Time) {
	old := c.pending
	c.pending = nil
	t := ms(now)
	c.expire(t)
	for _, d := range old {
		if d.cmd != nil {
			c.dispatch(d.cmd, t)
		}
	}
}

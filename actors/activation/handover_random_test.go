package activation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestRandomizedHandover runs several activations of one resource at once, each with its own
// clock (offsets within MaxClockOffset of each other), against a model store with leases and
// the hand-over (persistence.LeaseHandover), with store calls applied and answered after
// random delays (a hand-over may apply long after it was asked for, a write's outcome may be
// lost), activations started, stopped and fenced at random. It checks the invariant leases
// exist for: at no instant are two activations that may answer from memory both leased, and
// no read answers a version older than one already acknowledged. It also counts hand-overs, so
// that the test shows it exercises them (and, with HandoverPoll 0, that nothing changes).
func TestRandomizedHandover(t *testing.T) {
	handed := 0
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { handed += runHandover(t, seed, seed%4 != 3) })
	}
	if handed < 30 {
		t.Errorf("%d loads installed by a hand-over over all seeds: the test does not exercise it", handed)
	}
}

var hoTrace = false // log every step

// hoStore is the model store's lease row with the hand-over.
type hoStore struct{ *modelStore }

// handOver is persistence.LeaseHandover.HandOver.
func (s hoStore) handOver(epoch uint64, until time.Time) bool {
	if epoch == 0 || s.epoch != epoch+1 || until.IsZero() || s.leaseUntil.IsZero() || !ceilMS(s.leaseUntil).Equal(ceilMS(until)) {
		return false
	}
	s.leaseUntil = time.Time{}
	return true
}

// hoCall is a store call in flight: it applies at apply (true time), and its result reaches
// the activation at deliver; lost: it never applies (the activation learns an unknown
// outcome), unknown: it applies but the answer is lost.
type hoCall struct {
	act            *hoActivation
	apply, deliver time.Time
	applied        bool
	lost, unknown  bool
	commit         *Commit
	renewal        *Renewal
	load           *Load
	check          *LeaseCheck
	release        *Release
	result         Input
}

// hoRead is a command's sender: what was acknowledged when it was asked.
type hoRead struct{ acked uint64 }

type hoActivation struct {
	n      int
	core   *Core
	offset time.Duration // its clock is true time + offset
	wake   time.Time     // by its clock
	stop   bool          // a Stop is due (it asked to stop itself)
}

func runHandover(t *testing.T, seed uint64, poll bool) int {
	rng := rand.New(rand.NewPCG(seed, 17))
	store := hoStore{&modelStore{exists: true, version: 1, buckets: map[string]booking.Bucket{"a": {Key: "a", Capacity: 1_000_000}},
		holds: map[string]booking.Hold{}, idem: map[string]booking.IdempotencyEntry{}, waiting: map[string]booking.WaitlistEntry{},
		resource: booking.Resource{ID: "r", Name: "Room", HoldTTL: time.Hour, MaxExtensions: booking.DefaultMaxExtensions,
			WaitlistOfferTTL: booking.DefaultWaitlistOfferTTL}}}
	const offset = 200 * time.Millisecond
	cfg := Config{ResourceID: "r", MaxPending: 50, MaxBatch: 4, IdleTimeout: time.Hour, CommitTimeout: 3 * time.Second,
		MinReloadBackoff: 10 * time.Millisecond, MaxReloadBackoff: 80 * time.Millisecond, Lease: time.Second, MaxClockOffset: offset,
		MaxInFlight: 1}
	if poll {
		cfg.HandoverPoll = time.Duration(5+rng.IntN(40)) * time.Millisecond
	}
	now := time.UnixMilli(1_900_000_000_000).UTC() // true time
	var (
		acts     []*hoActivation
		calls    []*hoCall
		acked    uint64 // the highest version acknowledged to a client
		handed   int
		nextHold int
		started  int
	)
	delay := func() time.Duration { return time.Duration(rng.IntN(60)) * time.Millisecond }
	var step func(a *hoActivation, in Input)
	step = func(a *hoActivation, in Input) {
		local := now.Add(a.offset)
		rd := a.core.Step(local, in)
		if hoTrace {
			t.Logf("+%s act %d %T %+v -> phase %s epoch %d leased %v replies %d commits %d renewal %v load %v release %+v", now.Sub(time.UnixMilli(1_900_000_000_000)), a.n, in, in, a.core.Phase(), a.core.epoch, a.core.Status(local).Leased, len(rd.Replies), len(rd.Commits), rd.Renewal.ID != 0, rd.Load.ID != 0, rd.Release)
			for _, r := range rd.Replies {
				if r.Answer.Resource != nil {
					t.Logf("   read v%d", r.Answer.Resource.Version)
				}
			}
		}
		if rd.Notes.HandedOver {
			handed++
		}
		for _, r := range rd.Replies {
			if r.Answer.Err != nil || r.Answer.Stale || r.Answer.Resource == nil {
				continue
			}
			// Linearizable: a read reflects every write acknowledged before it was asked.
			if v, before := r.Answer.Resource.Version, r.To.(*hoRead).acked; v < before {
				t.Fatalf("seed %d: activation %d (epoch %d) read version %d, asked after version %d was acknowledged", seed, a.n, a.core.epoch, v, before)
			}
		}
		after := func(d time.Duration) (time.Time, time.Time) {
			ap := now.Add(d)
			return ap, ap.Add(delay())
		}
		for i := range rd.Commits {
			c := rd.Commits[i]
			ap, dl := after(delay())
			calls = append(calls, &hoCall{act: a, apply: ap, deliver: dl, commit: &c, lost: rng.IntN(20) == 0, unknown: rng.IntN(20) == 0})
		}
		if r := rd.Renewal; r.ID != 0 {
			ap, dl := after(delay())
			calls = append(calls, &hoCall{act: a, apply: ap, deliver: dl, renewal: &r, lost: rng.IntN(20) == 0, unknown: rng.IntN(20) == 0})
		}
		if l := rd.Load; l.ID != 0 {
			ap, dl := after(delay())
			calls = append(calls, &hoCall{act: a, apply: ap, deliver: dl, load: &l, lost: rng.IntN(30) == 0})
		}
		if c := rd.LeaseCheck; c.ID != 0 {
			ap, dl := after(delay())
			calls = append(calls, &hoCall{act: a, apply: ap, deliver: dl, check: &c, lost: rng.IntN(20) == 0})
		}
		if r := rd.Release; r.Requested {
			// Sometimes very late: a hand-over stuck in the network.
			d := delay()
			if rng.IntN(4) == 0 {
				d = time.Duration(rng.IntN(3000)) * time.Millisecond
			}
			ap, _ := after(d)
			calls = append(calls, &hoCall{act: a, apply: ap, release: &r})
		}
		if rd.StopSelf {
			a.stop = true
		}
		a.wake = rd.WakeAt
		a.core.Done(false)
		// The invariant: at most one activation that may answer from memory is leased.
		var leased []int
		for _, b := range acts {
			st := b.core.Status(now.Add(b.offset))
			if st.Leased && st.Phase != Dead && st.Phase != Stopped {
				leased = append(leased, b.n)
			}
		}
		if len(leased) > 1 {
			t.Fatalf("seed %d: activations %v are leased at once at +%s", seed, leased, now.Sub(time.UnixMilli(1_900_000_000_000)))
		}
	}
	apply := func(c *hoCall) {
		c.applied = true
		switch {
		case c.commit != nil:
			o := Unknown
			if !c.lost {
				o = store.commit(c.commit.Write)
			}
			if c.unknown {
				o = Unknown
			}
			c.result = CommitResult{ID: c.commit.ID, Outcome: o}
		case c.renewal != nil:
			o := Unknown
			if !c.lost {
				o = Fenced
				if store.epoch == c.renewal.Epoch {
					o, store.leaseUntil = Committed, ceilMS(c.renewal.Until)
				}
			}
			if c.unknown {
				o = Unknown
			}
			c.result = RenewalResult{ID: c.renewal.ID, Outcome: o}
		case c.load != nil:
			if c.lost {
				c.result = LoadResult{ID: c.load.ID, Failed: true}
			} else {
				r := store.load(c.load.ID)
				r.LeaseUntil = ceilMSOrZero(r.LeaseUntil)
				c.result = r
			}
		case c.check != nil:
			c.result = LeaseCheckResult{ID: c.check.ID, Failed: true}
			if !c.lost {
				c.result = LeaseCheckResult{ID: c.check.ID, Epoch: store.epoch, Until: ceilMSOrZero(store.leaseUntil)}
			}
		case c.release != nil:
			r := c.release
			if !r.Fenced && store.epoch == r.Epoch {
				store.leaseUntil = time.Time{}
			} else if !r.HandOver.IsZero() {
				store.handOver(r.Epoch, r.HandOver)
			}
		}
	}
	for i := 0; i < 3000; i++ {
		now = now.Add(time.Duration(rng.IntN(25)) * time.Millisecond)
		// Store calls that are due apply, then deliver, in time order.
		slices.SortStableFunc(calls, func(x, y *hoCall) int { return x.apply.Compare(y.apply) })
		for _, c := range calls {
			if !c.applied && !c.apply.After(now) {
				apply(c)
			}
		}
		var rest, due []*hoCall
		for _, c := range calls {
			switch {
			case !c.applied:
				rest = append(rest, c)
			case c.result == nil:
			case c.deliver.After(now):
				rest = append(rest, c)
			default:
				due = append(due, c)
			}
		}
		calls = rest // the steps below add the calls they start
		for _, c := range due {
			if r, ok := c.result.(CommitResult); ok && r.Outcome == Committed {
				acked = max(acked, c.commit.Write.Version) // acknowledged by this step's replies
			}
			step(c.act, c.result)
		}
		// Wake-ups and stops.
		for _, a := range acts {
			if a.core.Phase() == Stopped {
				continue
			}
			if a.stop {
				a.stop = false
				step(a, Stop{})
				continue
			}
			if !a.wake.IsZero() && !a.wake.After(now.Add(a.offset)) {
				step(a, Tick{})
			}
		}
		var live []*hoActivation
		for _, a := range acts {
			if a.core.Phase() != Stopped {
				live = append(live, a)
			}
		}
		acts = live
		switch r := rng.IntN(100); {
		case r < 1 && len(acts) < 4: // a new activation (another node's)
			started++
			core, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := &hoActivation{n: started, core: core, offset: time.Duration(rng.Int64N(int64(offset))) - offset/2}
			acts = append(acts, a)
			step(a, Start{})
		case r < 2 && rng.IntN(3) == 0 && len(acts) > 0: // a graceful stop (a rebalance)
			step(acts[rng.IntN(len(acts))], Stop{})
		case r < 60 && len(acts) > 0:
			a := acts[rng.IntN(len(acts))]
			var op any = GetResource{}
			if rng.IntN(3) == 0 {
				nextHold++
				op = booking.PlaceHold{HoldID: fmt.Sprintf("h%d", nextHold), Buckets: []string{"a"}, Quantity: 1, UserID: "u"}
			}
			step(a, &Command{Op: op, To: &hoRead{acked: acked}})
		}
	}
	return handed
}

// ceilMSOrZero is ceilMS, keeping the zero time (no lease) zero.
func ceilMSOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return ceilMS(t)
}

package resource

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/protos"
)

// chaosStore is a real store (the in-memory one, or PostgreSQL) with failures injected at
// random: a commit or lease renewal refused before it writes, one written but reported failed
// (a lost acknowledgement), an activation refused.
type chaosStore struct {
	persistence.Store
	mem                        *memstore.Store // Store, when it is the in-memory one
	on                         atomic.Bool
	mu                         sync.Mutex
	rng                        *rand.Rand
	pBefore, pAfter, pActivate float64
}

func (s *chaosStore) roll(p float64) bool {
	if !s.on.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < p
}

// Enqueue pipelines the commits through Commit above, in the resource's order (the in-memory
// store), or through the store's own pipeline (PostgreSQL) with the same failures around it: a
// batch refused before it is placed leaves the ones behind it to the store's version check.
func (s *chaosStore) Enqueue(ctx context.Context, b *persistence.Batch) func() error {
	if s.mem != nil {
		return s.mem.EnqueueFunc(ctx, b.ResourceID, func() error { return s.Commit(ctx, b) })
	}
	if s.roll(s.pBefore) {
		return func() error { return errInjected }
	}
	wait := s.Store.(pipeliner).Enqueue(ctx, b)
	return func() error {
		if err := wait(); err != nil {
			return err
		}
		if s.roll(s.pAfter) {
			return errInjected
		}
		return nil
	}
}

// PipelineShape is the store's (pipelineShaper), if it has one.
func (s *chaosStore) PipelineShape() (depth, minBatch int) {
	if p, ok := s.Store.(pipelineShaper); ok {
		return p.PipelineShape()
	}
	return 0, 0
}

func (s *chaosStore) Commit(ctx context.Context, b *persistence.Batch) error {
	if s.roll(s.pBefore) {
		return errInjected
	}
	if err := s.Store.Commit(ctx, b); err != nil {
		return err
	}
	if s.roll(s.pAfter) {
		return errInjected
	}
	return nil
}

func (s *chaosStore) Renew(ctx context.Context, id string, epoch uint64, until time.Time) error {
	if s.roll(s.pBefore) {
		return errInjected
	}
	if err := s.Store.Renew(ctx, id, epoch, until); err != nil {
		return err
	}
	if s.roll(s.pAfter) {
		return errInjected
	}
	return nil
}

func (s *chaosStore) Activate(ctx context.Context, id string, since time.Time) (*persistence.Snapshot, error) {
	if s.roll(s.pActivate) {
		return nil, errInjected
	}
	return s.Store.Activate(ctx, id, since)
}

// knownHold is what a client knows of a hold it placed: the status last acknowledged, and
// the moves whose outcome it never learned. Such a move may take effect at any point after it
// was sent (a linearizable history may place it after later acknowledged operations), so it
// stays possible for good.
type knownHold struct {
	allowed   map[booking.Status]bool // last acknowledged
	maybe     map[booking.Status]bool // unknown outcomes
	expiresAt time.Time
}

// tally counts replies over all clients.
type tally struct {
	placed, confirmed, cancelled, errors atomic.Int64
}

// TestRandomized sends random commands from concurrent clients while the store fails at
// random and activations are replaced (fencing the old one), then checks that every
// acknowledged hold is in the store with its last acknowledged status, that no bucket is
// oversold, and that the counters agree with the replies.
func TestRandomized(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			mem := MustMemstore(t)
			runRandomized(t, seed, &chaosStore{Store: mem, mem: mem})
		})
	}
}

// TestRandomizedPostgres is TestRandomized on PostgreSQL, whose pipeline (Enqueue) sends a
// resource's next commit on one connection while the previous one commits.
func TestRandomizedPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL")
	}
	srv := pgtest.MustServer(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			cfg := postgres.DefaultConfig()
			cfg.URL = srv.MustDatabase(t)
			store := mustPostgres(t, cfg)
			runRandomized(t, seed, &chaosStore{Store: store})
		})
	}
}

func runRandomized(t *testing.T, seed uint64, store *chaosStore) {
	const (
		clients   = 8
		opsEach   = 250
		resource  = "hotel"
		swaps     = 4 // activations replaced while clients run
		keysEach  = 8
		ttlMinute = 10
	)
	buckets := []string{"d1", "d2", "d3", "d4"}
	store.rng, store.pBefore, store.pAfter, store.pActivate = rand.New(rand.NewPCG(seed, 99)), 0.08, 0.05, 0.15
	h := newHarness(t, store)
	h.cfg.MaxBatch = 2 // small: full batches go behind the commits at the store (the pipeline)
	h.cfg.MinReloadBackoff, h.cfg.MaxReloadBackoff = time.Millisecond, 2*time.Millisecond
	// Short real-time leases: every activation replaced after a failure waits for one, and
	// they lapse often, so renewals (and their injected failures) happen too.
	h.cfg.Lease, h.cfg.MaxClockOffset = 30*time.Millisecond, 5*time.Millisecond
	// The test routes like the cluster: one current activation, a new one once it stopped.
	var (
		routeMu sync.Mutex
		cur     *actor.PID
		curDone <-chan struct{}
	)
	activate := func() *actor.PID {
		cur = h.spawn(resource)
		curDone = h.watch(cur)
		return cur
	}
	route := func() *actor.PID {
		routeMu.Lock()
		defer routeMu.Unlock()
		select {
		case <-curDone:
			return activate()
		default:
			return cur
		}
	}
	activate()
	caps := map[string]int64{}
	for _, b := range buckets {
		caps[b] = 6
	}
	h.create(route(), resource, caps)
	store.on.Store(true)

	var (
		counts tally
		wg     sync.WaitGroup
		mu     sync.Mutex
		known  = map[string]*knownHold{}
		errs   []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	// ask returns nil when the outcome is unknown (no reply, or a retryable error).
	ask := func(cmd *protos.Command) *protos.Reply {
		res, err := h.sys.Root.RequestFuture(route(), cmd, askTimeout).Result()
		if errors.Is(err, actor.ErrDeadLetter) {
			return nil
		}
		if err != nil {
			fail("%v: %v", cmd, err)
			return nil
		}
		rep := res.(*protos.Reply)
		if rep.GetError() != nil {
			counts.errors.Add(1)
			if booking.Retryable(rep.GetError().GetCode()) {
				return nil
			}
		}
		return rep
	}
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			var mine []string
			lastVersion := uint64(0)
			for i := range opsEach {
				if c == 0 && i%15 == 14 {
					h.clock.Advance(3 * time.Minute) // holds expire as the run goes on
				}
				switch p := rng.IntN(100); {
				case p < 50 || len(mine) == 0:
					n := 1 + rng.IntN(2)
					start := rng.IntN(len(buckets) - n + 1)
					key := ""
					if rng.IntN(2) == 0 {
						key = fmt.Sprintf("c%d-k%d", c, rng.IntN(keysEach))
					}
					rep := ask(holdCmd(resource, key, fmt.Sprintf("u%d", c), int64(1+rng.IntN(2)), buckets[start:start+n]...))
					if rep == nil || rep.GetError() != nil {
						continue
					}
					hd := rep.GetHold()
					if !rep.GetReplayed() {
						counts.placed.Add(1)
					}
					mu.Lock()
					k, ok := known[hd.GetId()]
					if !ok {
						k = &knownHold{allowed: map[booking.Status]bool{}, maybe: map[booking.Status]bool{}, expiresAt: time.UnixMilli(hd.GetExpiresAtMs())}
						known[hd.GetId()] = k
						mine = append(mine, hd.GetId())
					}
					clear(k.allowed)
					k.allowed[booking.Status(hd.GetStatus())] = true
					mu.Unlock()
				case p < 90:
					id := mine[rng.IntN(len(mine))]
					confirm := p < 70
					cmd, to := cancelCmd(resource, id), booking.StatusCancelled
					if confirm {
						cmd, to = confirmCmd(resource, id), booking.StatusConfirmed
					}
					rep := ask(cmd)
					mu.Lock()
					k := known[id]
					switch {
					case rep == nil: // unknown outcome: the move may have happened, or happen
						k.maybe[to] = true
					case rep.GetError() == nil:
						if confirm {
							counts.confirmed.Add(1)
						} else {
							counts.cancelled.Add(1)
						}
						clear(k.allowed)
						k.allowed[booking.Status(rep.GetHold().GetStatus())] = true
						if rep.GetHold().GetStatus() != string(to) {
							fail("%s of %s answered %s", to, id, rep.GetHold().GetStatus())
						}
					}
					mu.Unlock()
				default:
					rep := ask(getResourceCmd(resource))
					if rep == nil || rep.GetError() != nil {
						continue
					}
					res := rep.GetResource()
					if res.GetVersion() < lastVersion {
						fail("client %d read version %d after %d", c, res.GetVersion(), lastVersion)
					}
					lastVersion = res.GetVersion()
					for k, b := range res.GetBuckets() {
						if b.GetHeld()+b.GetConfirmed() > b.GetCapacity() || b.GetHeld() < 0 {
							fail("read oversold bucket %s: %v", k, b)
						}
					}
				}
			}
		})
	}
	// Meanwhile, replace the activation a few times: the new one fences the old.
	swapRng := rand.New(rand.NewPCG(seed, 1000))
	for range swaps {
		for range 1 + swapRng.IntN(20) { // let some work happen
			ask(getResourceCmd(resource))
		}
		routeMu.Lock()
		old := cur
		activate()
		routeMu.Unlock()
		h.sys.Root.Poison(old)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d problems, first: %s", len(errs), errs[0])
	}

	store.on.Store(false)
	h.stop(route())
	snap := checkStoreConsistent(t, store.Store, resource)
	stored := storedHolds(t, store.Store, resource)
	now := h.clock.Now()
	for id, k := range known {
		s, ok := stored[id]
		if !ok {
			t.Errorf("acknowledged hold %s is not in the store", id)
			continue
		}
		if k.allowed[s.Status] || k.maybe[s.Status] {
			continue
		}
		if s.Status == booking.StatusExpired && k.allowed[booking.StatusHeld] && !now.Before(k.expiresAt) {
			continue
		}
		t.Errorf("hold %s: store says %s, acknowledged %v, unknown %v", id, s.Status, k.allowed, k.maybe)
	}
	if len(snap.Buckets) != len(buckets) {
		t.Errorf("store has %d buckets", len(snap.Buckets))
	}

	placed := counter(t, h.reg, "allot_holds_total")
	if int64(placed) != counts.placed.Load() {
		t.Errorf("holds_total %v, %d placements acknowledged", placed, counts.placed.Load())
	}
	if c := counter(t, h.reg, "allot_confirms_total"); int64(c) > counts.confirmed.Load() {
		t.Errorf("confirms_total %v > %d acknowledged", c, counts.confirmed.Load())
	}
	if c := counter(t, h.reg, "allot_cancels_total"); int64(c) > counts.cancelled.Load() {
		t.Errorf("cancels_total %v > %d acknowledged", c, counts.cancelled.Load())
	}
	if r := counter(t, h.reg, "allot_rejections_total"); int64(r) != counts.errors.Load() {
		t.Errorf("rejections_total %v, %d error replies", r, counts.errors.Load())
	}
	if d := counter(t, h.reg, "allot_mailbox_depth"); d != 0 {
		t.Errorf("mailbox_depth %v after everything was answered", d)
	}
	var inStore int64
	for _, s := range stored {
		if s.Status != "" {
			inStore++
		}
	}
	t.Logf("%d holds acknowledged, %d in the store, %v expiries, %v fenced, %v activations, %d error replies",
		len(known), inStore, counter(t, h.reg, "allot_expiries_total"), counter(t, h.reg, "allot_fenced_total"),
		counter(t, h.reg, "allot_activations_total"), counts.errors.Load())
}

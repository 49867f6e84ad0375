package resource

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/persistence/sqlite"
	"github.com/allot/allot/protos"
)

// askTimeout bounds every request in tests; it is a failure detector, never a wait.
const askTimeout = 20 * time.Second

// base is the tests' fixed start of time (ms precision).
var base = time.UnixMilli(1_900_000_000_000).UTC()

// MustSystem returns an actor system that is shut down when the test ends.
func MustSystem(tb testing.TB) *actor.ActorSystem {
	tb.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	tb.Cleanup(sys.Shutdown)
	return sys
}

// MustMemstore returns an in-memory store.
func MustMemstore(tb testing.TB) *memstore.Store {
	tb.Helper()
	s := memstore.New()
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// MustSQLite returns a SQLite store in a temporary directory.
func MustSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(filepath.Join(tb.TempDir(), "allot.db")))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// harness is one test's actor system, store, clock and configuration.
type harness struct {
	tb    testing.TB
	sys   *actor.ActorSystem
	store persistence.Store
	clock *fakeClock
	reg   *prometheus.Registry
	cfg   Config
}

func newHarness(tb testing.TB, store persistence.Store) *harness {
	tb.Helper()
	h := &harness{tb: tb, sys: MustSystem(tb), store: store, clock: newClock(), reg: prometheus.NewRegistry()}
	h.cfg = DefaultConfig()
	h.cfg.Store = store
	h.cfg.Now, h.cfg.AfterFunc = h.clock.Now, h.clock.AfterFunc
	// The fake clock jumps by minutes and days: an activation must not passivate because a
	// test moved time (tests of passivation set a short IdleTimeout).
	h.cfg.IdleTimeout = 1000 * time.Hour
	h.cfg.Metrics = NewMetrics(h.reg)
	h.cfg.Owner = "test-node"
	// Short leases: a test that replaces an activation without a graceful stop waits for the
	// old lease; the protocol is the same at any length.
	h.cfg.Lease, h.cfg.MaxClockOffset = time.Second, 100*time.Millisecond
	return h
}

// spawn starts a plain actor for resource id with h.cfg; it is stopped when the test ends.
func (h *harness) spawn(id string) *actor.PID {
	h.tb.Helper()
	pid := h.sys.Root.Spawn(props(h.cfg, id, produceProbed))
	h.tb.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	return pid
}

// ask sends cmd and waits for the reply.
func (h *harness) ask(pid *actor.PID, cmd *protos.Command) *protos.Reply {
	h.tb.Helper()
	rep, err := h.tryAsk(pid, cmd)
	if err != nil {
		h.tb.Fatalf("ask %v: %v", cmd, err)
	}
	return rep
}

// tryAsk is ask for goroutines other than the test's.
func (h *harness) tryAsk(pid *actor.PID, cmd *protos.Command) (*protos.Reply, error) {
	res, err := h.sys.Root.RequestFuture(pid, cmd, askTimeout).Result()
	if err != nil {
		return nil, err
	}
	rep, ok := res.(*protos.Reply)
	if !ok {
		return nil, errors.New("reply is not a *protos.Reply")
	}
	return rep, nil
}

// send sends cmd and returns the future of its reply, without waiting.
func (h *harness) send(pid *actor.PID, cmd *protos.Command) *actor.Future {
	return h.sys.Root.RequestFuture(pid, cmd, askTimeout)
}

// await waits for a future from send.
func (h *harness) await(f *actor.Future) *protos.Reply {
	h.tb.Helper()
	res, err := f.Result()
	if err != nil {
		h.tb.Fatalf("await: %v", err)
	}
	return res.(*protos.Reply)
}

// probe returns the actor's internals; with idle, once nothing is loading, in flight or pending.
func (h *harness) probe(pid *actor.PID, idle bool) probeResult {
	h.tb.Helper()
	p := &probe{idle: idle, reply: make(chan probeResult, 1)}
	h.sys.Root.Send(pid, p)
	select {
	case r := <-p.reply:
		return r
	case <-time.After(askTimeout):
		h.tb.Fatalf("probe: no answer")
		return probeResult{}
	}
}

// stop stops the actor gracefully and waits for it.
func (h *harness) stop(pid *actor.PID) {
	h.tb.Helper()
	if err := h.sys.Root.PoisonFuture(pid).Wait(); err != nil {
		h.tb.Fatalf("stop: %v", err)
	}
}

// watch returns a channel closed when pid terminates.
func (h *harness) watch(pid *actor.PID) <-chan struct{} {
	done := make(chan struct{})
	h.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(pid)
		case *actor.Terminated:
			close(done)
			ctx.Stop(ctx.Self())
		}
	}))
	return done
}

// waitClosed fails the test if ch is not closed within askTimeout.
func waitClosed(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(askTimeout):
		tb.Fatalf("timed out waiting for %s", what)
	}
}

// Commands.

func createCmd(id string, ttl time.Duration, buckets map[string]int64) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_CreateResource{CreateResource: &protos.CreateResource{
		Name: "Resource " + id, Buckets: buckets, HoldTtlMs: ttl.Milliseconds(),
	}}}
}

func holdCmd(id, key, user string, qty int64, buckets ...string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_PlaceHold{PlaceHold: &protos.PlaceHold{
		IdempotencyKey: key, Buckets: buckets, Quantity: qty, UserId: user,
	}}}
}

func confirmCmd(id, holdID string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_ConfirmHold{ConfirmHold: &protos.ConfirmHold{HoldId: holdID}}}
}

func cancelCmd(id, holdID string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_CancelHold{CancelHold: &protos.CancelHold{HoldId: holdID}}}
}

func getResourceCmd(id string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}}
}

func getHoldCmd(id, holdID string) *protos.Command {
	return &protos.Command{ResourceId: id, Op: &protos.Command_GetHold{GetHold: &protos.GetHold{HoldId: holdID}}}
}

// code is the reply's error code, "" for success.
func code(rep *protos.Reply) string { return rep.GetError().GetCode() }

// mustOK fails the test unless rep is a success.
func mustOK(tb testing.TB, rep *protos.Reply) *protos.Reply {
	tb.Helper()
	if rep.GetError() != nil {
		tb.Fatalf("unexpected error reply: %v", rep.GetError())
	}
	return rep
}

// mustCode fails the test unless rep failed with want.
func mustCode(tb testing.TB, rep *protos.Reply, want string) {
	tb.Helper()
	if got := code(rep); got != want {
		tb.Fatalf("reply code = %q, want %q (reply %v)", got, want, rep)
	}
}

// create creates resource id through the actor.
func (h *harness) create(pid *actor.PID, id string, buckets map[string]int64) {
	h.tb.Helper()
	mustOK(h.tb, h.ask(pid, createCmd(id, 0, buckets)))
}

// Store views.

// storedHolds returns every hold of a resource in the store, by id.
func storedHolds(tb testing.TB, s persistence.Store, id string) map[string]booking.Hold {
	tb.Helper()
	hs, err := s.ListHolds(context.Background(), persistence.HoldFilter{ResourceID: id, Limit: 1000})
	if err != nil {
		tb.Fatalf("list holds: %v", err)
	}
	if len(hs) == 1000 {
		tb.Fatalf("list holds: more than the test can check")
	}
	out := make(map[string]booking.Hold, len(hs))
	for _, h := range hs {
		out[h.ID] = h
	}
	return out
}

// usage sums the active holds' quantities per bucket: held and confirmed.
func usage(holds map[string]booking.Hold) (held, confirmed map[string]int64) {
	held, confirmed = map[string]int64{}, map[string]int64{}
	for _, h := range holds {
		for _, k := range h.Buckets {
			switch h.Status {
			case booking.StatusHeld:
				held[k] += h.Quantity
			case booking.StatusConfirmed:
				confirmed[k] += h.Quantity
			}
		}
	}
	return held, confirmed
}

// checkStoreConsistent activates id in the store (so call it once no actor serves id) and
// checks that bucket counters agree with the holds and that nothing is oversold. It returns
// the snapshot.
func checkStoreConsistent(tb testing.TB, s persistence.Store, id string) *persistence.Snapshot {
	tb.Helper()
	snap, err := s.Activate(context.Background(), id, time.Time{})
	if err != nil {
		tb.Fatalf("activate: %v", err)
	}
	held, confirmed := usage(storedHolds(tb, s, id))
	for _, b := range snap.Buckets {
		if b.Held != held[b.Key] || b.Confirmed != confirmed[b.Key] {
			tb.Errorf("bucket %s: stored held/confirmed %d/%d, holds say %d/%d", b.Key, b.Held, b.Confirmed, held[b.Key], confirmed[b.Key])
		}
		if b.Held+b.Confirmed > b.Capacity || b.Held < 0 || b.Confirmed < 0 {
			tb.Errorf("bucket %s oversold: %+v", b.Key, b)
		}
	}
	return snap
}

// checkMemoryMatchesStore compares an actor's committed state with the store, without
// activating (so the actor stays the owner).
func checkMemoryMatchesStore(tb testing.TB, s persistence.Store, id string, mem *booking.State) {
	tb.Helper()
	stored := storedHolds(tb, s, id)
	known := 0
	for _, h := range stored {
		m, ok := mem.Hold(h.ID)
		if ok {
			known++
		}
		if (ok || h.Status.Active()) && m.Status != h.Status {
			tb.Errorf("hold %s: store %s, memory %q (known %v)", h.ID, h.Status, m.Status, ok)
		}
	}
	if known != mem.HoldCount() {
		tb.Errorf("memory has %d holds, %d of them in the store", mem.HoldCount(), known)
	}
	held, confirmed := usage(stored)
	for _, b := range mem.Buckets() {
		if b.Held != held[b.Key] || b.Confirmed != confirmed[b.Key] {
			tb.Errorf("bucket %s: memory held/confirmed %d/%d, store holds %d/%d", b.Key, b.Held, b.Confirmed, held[b.Key], confirmed[b.Key])
		}
	}
}

// histogram returns the sample count and sum of a histogram in reg.
func histogram(tb testing.TB, reg *prometheus.Registry, name string) (count uint64, sum float64, buckets []bucketCount) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		hg := mf.GetMetric()[0].GetHistogram()
		for _, b := range hg.GetBucket() {
			buckets = append(buckets, bucketCount{le: b.GetUpperBound(), n: b.GetCumulativeCount()})
		}
		return hg.GetSampleCount(), hg.GetSampleSum(), buckets
	}
	return 0, 0, nil
}

type bucketCount struct {
	le float64
	n  uint64
}

// medianUpperBound is the smallest bucket bound below which half the samples lie.
func medianUpperBound(count uint64, buckets []bucketCount) float64 {
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	for _, b := range buckets {
		if 2*b.n >= count {
			return b.le
		}
	}
	return -1
}

// counter returns a counter's value in reg (summed over labels).
func counter(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

// gate is a commit (or activate) hook that blocks the calls it catches until released.
type gate struct {
	mu      sync.Mutex
	armed   int           // calls still to catch
	entered chan struct{} // one send per caught call
	release chan error    // one receive per caught call: the call's error
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 64), release: make(chan error, 64)}
}

// arm makes the next n calls block.
func (g *gate) arm(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed += n
}

func (g *gate) hit(ctx context.Context) error {
	g.mu.Lock()
	caught := g.armed > 0
	if caught {
		g.armed--
	}
	g.mu.Unlock()
	if !caught {
		return nil
	}
	g.entered <- struct{}{}
	select {
	case err := <-g.release:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) commitHook(ctx context.Context, _ *persistence.Batch) error { return g.hit(ctx) }

// waitEntered waits until a caught call is blocked in the gate.
func (g *gate) waitEntered(tb testing.TB) {
	tb.Helper()
	select {
	case <-g.entered:
	case <-time.After(askTimeout):
		tb.Fatalf("gate: no call arrived")
	}
}

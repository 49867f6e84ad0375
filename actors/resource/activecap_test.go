package resource

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// spawnVirtual starts an activation of id from props as the cluster would (with its cluster
// identity), so that activations of one props share their count.
func (h *harness) spawnVirtual(props *actor.Props, id string) *actor.PID {
	h.tb.Helper()
	pid := h.sys.Root.Spawn(cluster.WithClusterIdentity(props, cluster.NewClusterIdentity(id, KindName)))
	h.tb.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	return pid
}

// capped sets a cap of n on h.cfg and returns props whose activation set the test can see.
func (h *harness) capped(n int) (*actor.Props, *activeSet) {
	h.cfg.MaxActive = n
	set := newActiveSet(n)
	h.cfg.active = set
	props := Props(h.cfg)
	h.cfg.active = nil
	return props, set
}

// waitIdle waits until n activations of set reported themselves idle (an activation publishes
// it before its answers leave, and again at the end of every message).
func waitIdle(tb testing.TB, set *activeSet, n int) {
	tb.Helper()
	waitBusyFlags(tb, set, n, false)
}

// waitBusy waits until n activations of set reported themselves busy: an activation publishes
// it after the message it handled, which may be after its commit already reached the store.
func waitBusy(tb testing.TB, set *activeSet, n int) {
	tb.Helper()
	waitBusyFlags(tb, set, n, true)
}

func waitBusyFlags(tb testing.TB, set *activeSet, n int, busy bool) {
	tb.Helper()
	deadline := time.Now().Add(askTimeout)
	for {
		set.mu.Lock()
		got := 0
		for e := range set.entries {
			if e.entry.busy.Load() == busy {
				got++
			}
		}
		set.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d activations busy=%v, want %d", got, busy, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMaxActivePassivatesLeastRecentlyUsed: with a cap of 3, activating 2 more resources
// passivates the 2 least recently used idle activations (by the injected clock), which lose
// nothing (their resources answer again from the store), and answers every command.
func TestMaxActivePassivatesLeastRecentlyUsed(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	props, set := h.capped(3)
	pids := map[string]*actor.PID{}
	for _, id := range []string{"r1", "r2", "r3"} {
		pids[id] = h.spawnVirtual(props, id)
		mustOK(t, h.ask(pids[id], createCmd(id, time.Hour, map[string]int64{"a": 5})))
	}
	mustOK(t, h.ask(pids["r1"], holdCmd("r1", "k1", "u-1", 2, "a")))
	// Use order, oldest first: r2, r1, r3.
	for _, id := range []string{"r2", "r1", "r3"} {
		h.clock.Advance(time.Second)
		mustOK(t, h.ask(pids[id], getResourceCmd(id)))
	}
	waitIdle(t, set, 3)
	gone1, gone2, kept := h.watch(pids["r2"]), h.watch(pids["r1"]), h.watch(pids["r3"])

	h.clock.Advance(time.Second)
	r4 := h.spawnVirtual(props, "r4")
	mustOK(t, h.ask(r4, createCmd("r4", 0, map[string]int64{"a": 1})))
	waitClosed(t, gone1, "the least recently used activation (r2) to passivate")
	waitIdle(t, set, 2) // r3 and r4
	h.clock.Advance(time.Second)
	r5 := h.spawnVirtual(props, "r5")
	mustOK(t, h.ask(r5, createCmd("r5", 0, map[string]int64{"a": 1})))
	waitClosed(t, gone2, "the next least recently used activation (r1) to passivate")
	select {
	case <-kept:
		t.Fatal("r3, used more recently than r1 and r2, was passivated")
	default:
	}

	// The passivated resources kept everything: r1's hold is there in a new activation.
	r1 := h.spawnVirtual(props, "r1")
	rep := mustOK(t, h.ask(r1, getResourceCmd("r1")))
	if got := rep.GetResource().GetBuckets()["a"].GetHeld(); got != 2 {
		t.Fatalf("r1 held after passivation = %d, want 2", got)
	}
	if got := testutil.ToFloat64(h.cfg.Metrics.pressured); got < 2 {
		t.Fatalf("passivations under pressure = %v, want at least 2", got)
	}
	if got := testutil.ToFloat64(h.cfg.Metrics.refusedCap); got != 0 {
		t.Fatalf("refused activations = %v, want 0", got)
	}
	// The victim of r1's admission passivates on its own mailbox, after r1 answered.
	eventually(t, "at most 3 active resources", func() bool {
		return testutil.ToFloat64(h.cfg.Metrics.active) <= 3 && set.len() <= 3
	})
}

// TestMaxActiveNeverPassivatesBusy: with a cap of 2 and both activations waiting for a
// commit, a third activation is refused unavailable with a retry hint (the busy ones keep
// their commands); once one is idle again, a new activation takes its place.
func TestMaxActiveNeverPassivatesBusy(t *testing.T) {
	store := MustMemstore(t)
	h := newHarness(t, store)
	props, set := h.capped(2)
	r1, r2 := h.spawnVirtual(props, "r1"), h.spawnVirtual(props, "r2")
	mustOK(t, h.ask(r1, createCmd("r1", time.Hour, map[string]int64{"a": 1})))
	mustOK(t, h.ask(r2, createCmd("r2", time.Hour, map[string]int64{"a": 1})))
	g := newGate()
	store.SetCommitHook(g.commitHook)
	g.arm(2)
	f1, f2 := h.send(r1, holdCmd("r1", "k1", "u-1", 1, "a")), h.send(r2, holdCmd("r2", "k2", "u-1", 1, "a"))
	g.waitEntered(t)
	g.waitEntered(t)
	// Their busy flags are published after the message that started the commit, which may
	// be after the commit reached the store: an admission reading a stale idle flag would
	// claim one, which then declines (onEvict), and r3 would be admitted over the cap.
	waitBusy(t, set, 2)
	alive1, alive2 := h.watch(r1), h.watch(r2)

	r3 := h.spawnVirtual(props, "r3")
	done := h.watch(r3)
	rep, err := h.tryAsk(r3, createCmd("r3", 0, map[string]int64{"a": 1}))
	if err == nil { // a command reaching the mailbox after the stop is answered the same way
		mustCode(t, rep, booking.CodeUnavailable)
		if !strings.Contains(rep.GetError().GetMessage(), "too many active resources") || rep.GetError().GetRetryAfterMs() <= 0 {
			t.Fatalf("refusal = %v, want the cap's message with a retry hint", rep.GetError())
		}
	}
	waitClosed(t, done, "the refused activation to stop")
	if got := testutil.ToFloat64(h.cfg.Metrics.refusedCap); got != 1 {
		t.Fatalf("refused activations = %v, want 1", got)
	}
	for _, ch := range []<-chan struct{}{alive1, alive2} {
		select {
		case <-ch:
			t.Fatal("a busy activation was passivated")
		default:
		}
	}
	g.release <- nil
	g.release <- nil
	mustOK(t, h.await(f1))
	mustOK(t, h.await(f2))

	// Both idle now: r3 is admitted in the place of one, and its creation succeeds (the
	// refused activation committed nothing, or it would be already_exists).
	waitIdle(t, set, 2)
	r3 = h.spawnVirtual(props, "r3")
	mustOK(t, h.ask(r3, createCmd("r3", 0, map[string]int64{"a": 1})))
	// The victim counts its passivation when it handles the request, after r3 answered.
	eventually(t, "one passivation under pressure", func() bool {
		return testutil.ToFloat64(h.cfg.Metrics.pressured) == 1
	})
	for _, id := range []string{"r1", "r2"} { // the holds of the busy ones were kept
		if held, _ := usage(storedHolds(t, store, id)); held["a"] != 1 {
			t.Fatalf("%s held = %v, want 1", id, held)
		}
	}
}

// TestActiveSetDeclinedClaimIsClaimedAgain: an activation that declines (work arrived before
// the request) gives its claim back, and the next admission over the cap claims one more,
// so the set returns under its cap.
func TestActiveSetDeclinedClaimIsClaimedAgain(t *testing.T) {
	s := newActiveSet(1)
	a, b, c := &resourceActor{}, &resourceActor{}, &resourceActor{}
	a.entry.used.Store(1)
	b.entry.used.Store(2)
	if ok, v := s.admit(a); !ok || len(v) != 0 {
		t.Fatalf("first admission = %v %v", ok, v)
	}
	ok, v := s.admit(b)
	if !ok || len(v) != 1 || v[0] != a {
		t.Fatalf("second admission = %v %v, want a claimed", ok, v)
	}
	s.declined(a)
	ok, v = s.admit(c) // 3 entries, none evicting, cap 1: two to claim
	if !ok || len(v) != 2 {
		t.Fatalf("third admission = %v %v, want a and b claimed", ok, v)
	}
	s.remove(a)
	s.remove(b)
	s.remove(b) // twice: no effect
	if s.len() != 1 || s.evicting != 0 {
		t.Fatalf("len %d evicting %d, want 1 and 0", s.len(), s.evicting)
	}
	c.entry.busy.Store(true)
	if ok, _ := s.admit(&resourceActor{}); ok {
		t.Fatal("admitted over the cap with only a busy activation")
	}
}

// TestMissingResourcePassivates: a cluster activation of an id that does not exist answers
// not_found and stops at once, instead of holding an actor until IdleTimeout.
func TestMissingResourcePassivates(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawnVirtual(Props(h.cfg), "ghost")
	done := h.watch(pid)
	mustCode(t, h.ask(pid, getResourceCmd("ghost")), booking.CodeNotFound)
	waitClosed(t, done, "the activation of a missing resource to stop")
}

// TestPlainActorOfMissingResourceStays: a plain actor (PropsFor), which nobody re-activates,
// still serves after answering not_found, and can create the resource.
func TestPlainActorOfMissingResourceStays(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	pid := h.spawn("later")
	mustCode(t, h.ask(pid, getResourceCmd("later")), booking.CodeNotFound)
	mustOK(t, h.ask(pid, createCmd("later", 0, map[string]int64{"a": 1})))
}

// eventually fails the test unless cond holds within askTimeout; for effects an actor
// produces on its own mailbox after the reply the test waited for.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(askTimeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestActiveSetShrinksAfterAPassivationWave: a Go map keeps the table it grew to, so the set
// of a node that had 100,000 activations would keep 4 MB after they all passivated (found by
// the memory benchmark of `make bench`). Once a wave has emptied the set to under a quarter
// of its peak, the map is rebuilt for what is left; the set still counts right.
func TestActiveSetShrinksAfterAPassivationWave(t *testing.T) {
	s := newActiveSet(0)
	entries := make([]*resourceActor, 4*shrinkMin)
	for i := range entries {
		entries[i] = &resourceActor{}
		if ok, _ := s.admit(entries[i]); !ok {
			t.Fatalf("admit %d refused without a cap", i)
		}
	}
	if s.peak != len(entries) {
		t.Fatalf("peak %d after %d admissions", s.peak, len(entries))
	}
	for _, e := range entries[:len(entries)-10] {
		s.remove(e)
	}
	if got := s.len(); got != 10 {
		t.Fatalf("len %d after removing all but 10", got)
	}
	if s.peak >= shrinkMin {
		t.Fatalf("peak still %d with 10 entries left: the map was not rebuilt", s.peak)
	}
	for _, e := range entries[len(entries)-10:] {
		s.remove(e)
	}
	if got := s.len(); got != 0 {
		t.Fatalf("len %d after removing all", got)
	}
}

// answerProbe is a process that receives answers on the sending activation's own goroutine
// (protoactor delivers to a process synchronously), so that it sees the activation as it is
// when its answer leaves, before the rest of that message's handling.
type answerProbe struct {
	seen    func() bool // whether the activation counts as busy now
	replies chan answerSeen
}

type answerSeen struct {
	rep  *protos.Reply
	busy bool
}

func (p *answerProbe) SendUserMessage(_ *actor.PID, m any) {
	rep, _ := m.(*protos.Reply)
	p.replies <- answerSeen{rep: rep, busy: p.seen()}
}
func (p *answerProbe) SendSystemMessage(*actor.PID, any) {}
func (p *answerProbe) Stop(*actor.PID)                   {}

// TestIdleWhenAnswered: an activation says it is idle before its answer leaves, so that its
// client's next command, to another resource, finds it idle at that resource's admission
// under the cap. It said so only after the answer, and a client on a loaded machine could be
// refused unavailable for a moment (cmd's TestNodeMaxActiveResources was, in CI): answers of
// a create and a hold (both after their commit) and of a read (from memory) are checked.
func TestIdleWhenAnswered(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	props, set := h.capped(4)
	pid := h.spawnVirtual(props, "r1")
	probe := &answerProbe{replies: make(chan answerSeen, 1), seen: func() bool {
		set.mu.Lock()
		defer set.mu.Unlock()
		for e := range set.entries {
			return e.entry.busy.Load() // the only activation
		}
		return true
	}}
	sink, _ := h.sys.ProcessRegistry.Add(probe, "answer-probe")
	t.Cleanup(func() { h.sys.ProcessRegistry.Remove(sink) })
	for i, cmd := range []*protos.Command{
		createCmd("r1", time.Hour, map[string]int64{"a": 5}),
		holdCmd("r1", "k1", "u-1", 1, "a"),
		getResourceCmd("r1"),
		holdCmd("r1", "k2", "u-1", 1, "a"),
	} {
		h.sys.Root.RequestWithCustomSender(pid, cmd, sink)
		select {
		case got := <-probe.replies:
			mustOK(t, got.rep)
			if got.busy {
				t.Fatalf("command %d (%T) was answered while its activation still counted as busy", i, cmd.GetOp())
			}
		case <-time.After(askTimeout):
			t.Fatalf("command %d: no answer", i)
		}
	}
}

package resource

import (
	"testing"
	"time"
)

// TestQuietActivation: an activation with no command for QuietAfter packs its state on its
// idle check (the kind's one timer: the fake clock's), counted by allot_quiet_resources; the
// next command is answered from the unpacked state (a replay finds its hold, a new hold is
// placed beside it), and a stop of a quiet activation takes it out of the gauge.
func TestQuietActivation(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	h.cfg.QuietAfter = 10 * time.Second
	pid := h.spawn("room")
	h.create(pid, "room", map[string]int64{"a": 10})
	held := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u", 1, "a"))).GetHold()
	quiet := func(want float64) {
		t.Helper()
		// The wake-up reaches the actor as a message: poll the gauge (no event says it moved).
		for deadline := time.Now().Add(askTimeout); counter(t, h.reg, "allot_quiet_resources") != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("allot_quiet_resources = %v, want %v", counter(t, h.reg, "allot_quiet_resources"), want)
			}
		}
	}
	quiet(0)
	h.clock.Advance(11 * time.Second)
	quiet(1)
	if got := mustOK(t, h.ask(pid, holdCmd("room", "k1", "u", 1, "a"))).GetHold(); got.GetId() != held.GetId() {
		t.Fatalf("the replay of k1 after going quiet answered hold %s, want %s", got.GetId(), held.GetId())
	}
	quiet(0)
	if got := mustOK(t, h.ask(pid, holdCmd("room", "k2", "u", 1, "a"))).GetHold(); got.GetId() == held.GetId() {
		t.Fatal("a new key after going quiet answered the old hold")
	}
	res := mustOK(t, h.ask(pid, getResourceCmd("room"))).GetResource()
	if b := res.GetBuckets()["a"]; b.GetHeld() != 2 {
		t.Fatalf("bucket after quiet: %+v, want 2 held", b)
	}
	h.clock.Advance(11 * time.Second)
	quiet(1)
	if err := h.sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	quiet(0)
}

// TestQuietActorDropsItsStoreIO: an actor whose core went quiet keeps no storeIO (48 bytes and
// the calls' array) unless a call is still listed or it ever looked a hold up (a lookup the core
// gave up on may still be at the store, and the stop cancels and waits for it); the next call
// makes a fresh one.
func TestQuietActorDropsItsStoreIO(t *testing.T) {
	a := &resourceActor{}
	a.dropIO() // none: nothing to do
	call := &storeCall{kind: commitCall}
	io := a.storeIO()
	io.calls = append(io.calls, call)
	a.dropIO()
	if a.io != io {
		t.Fatal("dropped the storeIO of an actor with a call at the store")
	}
	if !a.done(call) || len(a.calls()) != 0 {
		t.Fatal("the call was not removed")
	}
	a.dropIO()
	if a.io != nil {
		t.Fatal("kept the storeIO of an actor with nothing at the store")
	}
	if a.done(call) || a.calls() != nil {
		t.Fatal("an actor without a storeIO has calls")
	}
	ctx := a.lifeContext()
	a.dropIO()
	if a.io == nil {
		t.Fatal("dropped the storeIO of an actor that looked a hold up")
	}
	a.release()
	if ctx.Err() == nil {
		t.Fatal("release did not cancel the lookups' context")
	}
}

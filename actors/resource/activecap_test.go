package resource

import (
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/allot/allot/actors/booking"
)

// spawnVirtual starts an activation of id from props as the cluster would (with its cluster
// identity), so that activations of one props share their count.
func (h *harness) spawnVirtual(props *actor.Props, id string) *actor.PID {
	h.tb.Helper()
	pid := h.sys.Root.Spawn(cluster.WithClusterIdentity(props, cluster.NewClusterIdentity(id, KindName)))
	h.tb.Cleanup(func() { _ = h.sys.Root.PoisonFuture(pid).Wait() })
	return pid
}

// TestMaxActiveRefusesBeyondTheCap: with MaxActive 2, a third activation answers unavailable
// with a retry hint and stops; once an activation stopped, a new
// one is admitted again. The gauge follows the count.
func TestMaxActiveRefusesBeyondTheCap(t *testing.T) {
	h := newHarness(t, MustMemstore(t))
	h.cfg.MaxActive = 2
	props := Props(h.cfg)
	r1, r2 := h.spawnVirtual(props, "r1"), h.spawnVirtual(props, "r2")
	mustOK(t, h.ask(r1, createCmd("r1", 0, map[string]int64{"a": 1})))
	mustOK(t, h.ask(r2, createCmd("r2", 0, map[string]int64{"a": 1})))

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

	// Once r1 stopped, r3 is admitted, and its creation succeeds: the refused one was not
	// committed (it would be already_exists).
	h.stop(r1)
	r3 = h.spawnVirtual(props, "r3")
	mustOK(t, h.ask(r3, createCmd("r3", 0, map[string]int64{"a": 1})))
	if got := testutil.ToFloat64(h.cfg.Metrics.active); got != 2 {
		t.Fatalf("active resources = %v, want 2", got)
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

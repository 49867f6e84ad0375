package chaos

import (
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// hist builds histories for the model tests: one resource "r" with buckets a and b of
// capacity cap; times in arbitrary units.
type hist struct {
	ops []*Op
}

func (h *hist) add(op Op, call, ret int64) *Op {
	op.Resource, op.Call, op.Return, op.ID = "r", call, ret, len(h.ops)
	h.ops = append(h.ops, &op)
	return &op
}

func (h *hist) hold(key string, q int64, res Result, call, ret int64, buckets ...string) {
	if len(buckets) == 0 {
		buckets = []string{"a"}
	}
	h.add(Op{Kind: KindHold, Key: key, Buckets: buckets, Qty: q, Result: res, Status: "held"}, call, ret)
}

func (h *hist) trans(kind Kind, key string, q int64, res Result, status string, call, ret int64, buckets ...string) {
	if len(buckets) == 0 {
		buckets = []string{"a"}
	}
	h.add(Op{Kind: kind, Key: key, Buckets: buckets, Qty: q, Result: res, Status: status}, call, ret)
}

func (h *hist) read(heldA, confA int64, capacity int64, call, ret int64) {
	h.readAB(heldA, confA, 0, 0, capacity, call, ret)
}

func (h *hist) readAB(heldA, confA, heldB, confB int64, capacity int64, call, ret int64) {
	h.add(Op{Kind: KindRead, Result: ResultOK, Avail: map[string]wire.Bucket{
		"a": {Capacity: capacity, Held: heldA, Confirmed: confA},
		"b": {Capacity: capacity, Held: heldB, Confirmed: confB},
	}}, call, ret)
}

func check(t *testing.T, h *hist, capacity int64) *ResourceCheck {
	t.Helper()
	specs := map[string]*ResourceSpec{"r": {ID: "r", Buckets: []string{"a", "b"}, Capacity: capacity}}
	v, err := Check(h.ops, specs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Resources) != 1 {
		t.Fatalf("%d resources checked", len(v.Resources))
	}
	return v.Resources[0]
}

func wantClass(t *testing.T, rc *ResourceCheck, class string) {
	t.Helper()
	if class == ClassNone {
		if rc.Anomalous() {
			t.Fatalf("not linearizable [%s], want linearizable\n%s", rc.Class, rc.Context)
		}
		return
	}
	if !rc.Anomalous() || rc.Class != class {
		t.Fatalf("result %s class %q, want Illegal %q\n%s", rc.Result, rc.Class, class, rc.Context)
	}
	if rc.Culprit == nil {
		t.Fatalf("no culprit located")
	}
}

func TestModelSequentialBooking(t *testing.T) {
	h := &hist{}
	h.hold("k1", 2, ResultOK, 0, 1, "a", "b")
	h.readAB(2, 0, 2, 0, 3, 2, 3)
	h.trans(KindConfirm, "k1", 2, ResultOK, "confirmed", 4, 5, "a", "b")
	h.readAB(0, 2, 0, 2, 3, 6, 7)
	h.hold("k2", 2, ResultSoldOut, 8, 9) // 1 left in a
	h.trans(KindGet, "k1", 2, ResultOK, "confirmed", 10, 11, "a", "b")
	h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 12, 13, "a", "b")
	h.trans(KindConfirm, "k1", 2, ResultConflict, "", 14, 15, "a", "b")
	h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 16, 17, "a", "b") // idempotent
	h.hold("k1", 2, ResultOK, 18, 19, "a", "b")                           // replay: no new hold
	h.read(0, 0, 3, 20, 21)
	wantClass(t, check(t, h, 3), ClassNone)
}

func TestModelConcurrentHoldsForTheLastUnit(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 10)
	h.hold("k2", 1, ResultSoldOut, 1, 9)
	h.read(1, 0, 1, 11, 12)
	wantClass(t, check(t, h, 1), ClassNone)
}

// Two acknowledged holds of the last unit: an oversell.
func TestModelOversellIsAWriteAnomaly(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.hold("k2", 1, ResultOK, 2, 3)
	wantClass(t, check(t, h, 1), ClassWrite)
}

// A read that does not show a hold acknowledged before it started.
func TestModelStaleRead(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.read(0, 0, 5, 2, 3)
	wantClass(t, check(t, h, 5), ClassStaleRead)
}

// A stale answer is explained when it came from another owner than the last write.
func TestModelExplainedBySupersededActivation(t *testing.T) {
	for _, tc := range []struct {
		readOwner string
		explained bool
	}{{"A", true}, {"B", false}} {
		h := &hist{}
		h.hold("k1", 1, ResultOK, 0, 1)
		h.ops[0].Owner = "B"
		h.read(0, 0, 5, 2, 3)
		h.ops[1].Owner = tc.readOwner
		rc := check(t, h, 5)
		wantClass(t, rc, ClassStaleRead)
		if rc.Explained != tc.explained {
			t.Errorf("read answered by %s: Explained = %v, want %v", tc.readOwner, rc.Explained, tc.explained)
		}
	}
}

// sold_out although a cancel acknowledged before freed the unit: the refusal was decided on
// an outdated state (what a stale activation answers from memory).
func TestModelStaleRefusal(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 2, 3)
	h.hold("k2", 1, ResultSoldOut, 4, 5)
	wantClass(t, check(t, h, 1), ClassStaleRefusal)
}

// A confirm acknowledged for a hold already cancelled: the no-op path answered from an
// outdated state, and the client believes in a booking that does not exist.
func TestModelConfirmAfterCancelIsAWriteAnomaly(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.trans(KindConfirm, "k1", 1, ResultOK, "confirmed", 2, 3)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 4, 5)
	h.trans(KindConfirm, "k1", 1, ResultOK, "confirmed", 6, 7)
	wantClass(t, check(t, h, 1), ClassWrite)
}

// A hold acknowledged and later not found is lost.
func TestModelLostHold(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.trans(KindConfirm, "k1", 1, ResultNotFound, "", 2, 3)
	wantClass(t, check(t, h, 1), ClassWrite)
}

// An unknown hold may take effect at any time after its invocation, or never.
func TestModelUnknownOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		held  []int64 // reads after the unknown hold, in order
		class string
	}{
		{"never applied", []int64{0, 0}, ClassNone},
		{"applied at once", []int64{1, 1}, ClassNone},
		{"applied late", []int64{0, 1}, ClassNone},
		{"applied then undone", []int64{1, 0}, ClassStaleRead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			h.hold("k1", 1, ResultUnknown, 0, 1)
			for i, held := range tc.held {
				h.read(held, 0, 2, int64(10+10*i), int64(11+10*i))
			}
			wantClass(t, check(t, h, 2), tc.class)
		})
	}
	// An unknown hold cannot make room: with it possibly applied, a later hold of the last
	// unit may be refused or accepted, but two acknowledged ones still oversell.
	h := &hist{}
	h.hold("k1", 1, ResultUnknown, 0, 1)
	h.hold("k2", 1, ResultSoldOut, 2, 3)
	wantClass(t, check(t, h, 1), ClassNone)
	h.hold("k3", 1, ResultOK, 4, 5)
	wantClass(t, check(t, h, 1), ClassStaleRefusal)
}

func TestModelReplayIsNeverSoldOut(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.hold("k1", 1, ResultSoldOut, 2, 3)
	wantClass(t, check(t, h, 1), ClassStaleRefusal)
}

func TestAckedFollowsTheLastAcknowledgedTransition(t *testing.T) {
	ops := []*Op{
		{Kind: KindHold, Key: "k1", HoldID: "h1", Result: ResultOK},
		{Kind: KindHold, Key: "k2", HoldID: "h2", Result: ResultOK},
		{Kind: KindHold, Key: "k3", HoldID: "h3", Result: ResultOK},
		{Kind: KindHold, Key: "k4", Result: ResultUnknown},
		{Kind: KindConfirm, Key: "k1", Result: ResultOK, Status: "confirmed"},
		{Kind: KindCancel, Key: "k1", Result: ResultUnknown},
		{Kind: KindCancel, Key: "k2", Result: ResultOK, Status: "cancelled"},
		{Kind: KindConfirm, Key: "k3", Result: ResultUnknown},
		{Kind: KindConfirm, Key: "k3", Result: ResultConflict},
	}
	got := Acked(ops)
	want := map[string]string{"h1": "cancelled|confirmed", "h2": "cancelled", "h3": "cancelled"}
	if len(got) != len(want) {
		t.Fatalf("Acked = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("Acked = %v, want %v", got, want)
		}
	}
}

func TestCompileRejectsUnknownResourcesAndBuckets(t *testing.T) {
	specs := map[string]*ResourceSpec{"r": {ID: "r", Buckets: []string{"a"}, Capacity: 1}}
	if _, err := compile([]*Op{{Kind: KindRead, Resource: "x", Result: ResultOK}}, specs); err == nil {
		t.Fatal("unknown resource accepted")
	}
	if _, err := compile([]*Op{{Kind: KindHold, Resource: "r", Key: "k", Buckets: []string{"z"}, Qty: 1, Result: ResultOK}}, specs); err == nil {
		t.Fatal("unknown bucket accepted")
	}
}

func TestStatesEqualIgnoringTrailingAbsentHolds(t *testing.T) {
	a := state{}.with(3, stHeld)
	b := a.with(7, stCancelled).with(7, stAbsent)
	if !equalStates(a, b) || a.hash() != b.hash() {
		t.Fatalf("states differ: %v %v", a, b)
	}
	if equalStates(a, a.with(3, stConfirmed)) {
		t.Fatal("different statuses compare equal")
	}
}

// The same confirm, re-sent by a client that knew the hold was cancelled, is the stale-ack
// class: an answer from memory rather than a lost write.
func TestModelRepeatedConfirmAfterCancelIsAStaleAck(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.trans(KindConfirm, "k1", 1, ResultOK, "confirmed", 2, 3)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 4, 5)
	h.trans(KindConfirm, "k1", 1, ResultOK, "confirmed", 6, 7)
	h.ops[len(h.ops)-1].Repeat = true
	wantClass(t, check(t, h, 1), ClassStaleAck)
}

func TestSupersededComparesWithTheLastAcknowledgedWrite(t *testing.T) {
	ops := []*Op{
		{Resource: "r", Kind: KindHold, Result: ResultOK, Owner: "A", Call: 0, Return: 1},
		{Resource: "r", Kind: KindHold, Result: ResultOK, Owner: "B", Call: 2, Return: 3},
		{Resource: "r", Kind: KindRead, Result: ResultOK, Owner: "B", Call: 4, Return: 5}, // observations do not count
		{Resource: "q", Kind: KindHold, Result: ResultOK, Owner: "C", Call: 5, Return: 6}, // other resources neither
		{Resource: "r", Kind: KindRead, Result: ResultOK, Owner: "A", Call: 7, Return: 8},
		{Resource: "r", Kind: KindRead, Result: ResultOK, Owner: "B", Call: 7, Return: 8},
		{Resource: "r", Kind: KindRead, Result: ResultOK, Owner: "A", Call: 2, Return: 8}, // concurrent with B's write
	}
	// A repeated transition is not a state change: a stale owner answering two in a row is
	// still superseded for the second.
	ops = append(ops,
		&Op{Resource: "r", Kind: KindConfirm, Result: ResultOK, Owner: "A", Repeat: true, Call: 9, Return: 10},
		&Op{Resource: "r", Kind: KindConfirm, Result: ResultOK, Owner: "A", Repeat: true, Call: 11, Return: 12})
	for i, want := range map[int]bool{4: true, 5: false, 6: false, 8: true} {
		if got := Superseded(ops[i], ops); got != want {
			t.Errorf("op %d: Superseded = %v, want %v", i, got, want)
		}
	}
}

func TestPlanRounds(t *testing.T) {
	env := map[string]string{EnvSeed: "40", EnvDuration: "5m", EnvRound: "2m", EnvFaults: "kill,pause"}
	p, err := PlanFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	rs := p.Rounds()
	if len(rs) != 3 || rs[0].Seed != 40 || rs[2].Seed != 42 || rs[2].Duration != time.Minute || len(rs[1].Faults) != 2 {
		t.Fatalf("rounds %+v", rs)
	}
	env[EnvFaults] = "meteor"
	if _, err := PlanFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("unknown fault accepted")
	}
}

// A hold refused sold_out on a retry, after an attempt that got no answer: that attempt may
// still be applied later (a paused node serves the request it had in its socket when it
// resumes; found by the campaign, seed 300), so a read that shows the hold after the unit
// freed up is linearizable. Without the uncertain attempt it is not. The refusal itself must
// still be true when it was given.
func TestModelRefusedRetryMayHideALaterAttempt(t *testing.T) {
	h := &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.hold("k2", 1, ResultSoldOut, 2, 5)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 6, 7)
	h.read(1, 0, 1, 8, 9)
	wantClass(t, check(t, h, 1), ClassStaleRead)
	h.ops[1].Uncertain = true
	if rc := check(t, h, 1); rc.Anomalous() {
		t.Fatalf("a refused retry after an uncertain attempt: %s %s", rc.Result, rc.Class)
	}
	// A refusal while the unit was free is wrong whatever an earlier attempt did.
	h = &hist{}
	h.hold("k1", 1, ResultOK, 0, 1)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 2, 3)
	h.hold("k2", 1, ResultSoldOut, 4, 10)
	h.ops[2].Uncertain = true
	wantClass(t, check(t, h, 1), ClassStaleRefusal)
}

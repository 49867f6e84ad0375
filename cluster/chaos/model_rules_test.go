package chaos

import (
	"fmt"
	"math/rand"
	"testing"
)

// The model's renewals and waitlists: histories written out by hand, then sequential
// histories of a reference simulation (an independent, imperative statement of the rules)
// with fixed seeds.

func (h *hist) extend(key string, res Result, call, ret int64) *Op {
	return h.add(Op{Kind: KindExtend, Key: key, Buckets: []string{"a"}, Qty: 1, Result: res, Status: "held"}, call, ret)
}

func (h *hist) join(key string, q int64, res Result, call, ret int64) *Op {
	return h.add(Op{Kind: KindJoin, Key: key, Buckets: []string{"a"}, Qty: q, Result: res}, call, ret)
}

func (h *hist) leave(key string, res Result, call, ret int64) *Op {
	return h.add(Op{Kind: KindLeave, Key: key, Result: res}, call, ret)
}

func (h *hist) getOffer(key, status string, res Result, call, ret int64) *Op {
	return h.add(Op{Kind: KindGet, Key: key, Offer: true, Buckets: []string{"a"}, Qty: 1, Result: res, Status: status}, call, ret)
}

func TestModelWaitlistAndRenewals(t *testing.T) {
	h := &hist{}
	h.hold("k1", 2, ResultOK, 0, 1)
	h.join("w1", 1, ResultOK, 2, 3) // sold out: u1 waits
	h.join("w2", 2, ResultOK, 4, 5) // and u2 behind
	h.getOffer("w1", "", ResultNotFound, 6, 7)
	h.extend("k1", ResultOK, 8, 9)
	h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 10, 11)
	// The cancel freed 2: w1 (1) is first and fits; w2 (2) no longer does, and waits.
	h.read(1, 0, 2, 12, 13)
	h.getOffer("w1", "held", ResultOK, 14, 15)
	h.getOffer("w2", "", ResultNotFound, 16, 17)
	h.leave("w2", ResultOK, 18, 19)
	h.leave("w1", ResultNotFound, 20, 21) // offered: no longer waiting
	h.extend("w1", ResultOK, 22, 23)
	h.extend("w1", ResultOK, 24, 25)
	h.extend("w1", ResultLimit, 26, 27)
	h.add(Op{Kind: KindConfirm, Key: "w1", Offer: true, Buckets: []string{"a"}, Qty: 1, Result: ResultOK, Status: "confirmed"}, 28, 29)
	h.extend("w1", ResultConflict, 30, 31)
	h.read(0, 1, 2, 32, 33)
	wantClass(t, check(t, h, 2), ClassNone)
}

func TestModelWaitlistAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *hist)
	}{
		{"join while units are free", func(h *hist) {
			h.hold("k1", 1, ResultOK, 0, 1)
			h.join("w1", 1, ResultOK, 2, 3)
		}},
		{"offer out of line", func(h *hist) {
			h.hold("k1", 2, ResultOK, 0, 1)
			h.join("w1", 2, ResultOK, 2, 3)
			h.join("w2", 2, ResultOK, 4, 5)
			h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 6, 7)
			h.getOffer("w1", "", ResultNotFound, 8, 9) // w1 was first in line and fits
		}},
		{"a freed unit offered twice", func(h *hist) {
			h.hold("k1", 2, ResultOK, 0, 1)
			h.join("w1", 2, ResultOK, 2, 3)
			h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 4, 5)
			h.hold("k2", 1, ResultOK, 6, 7) // w1's offer took both units
		}},
		{"leave after the offer", func(h *hist) {
			h.hold("k1", 2, ResultOK, 0, 1)
			h.join("w1", 1, ResultOK, 2, 3)
			h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 4, 5)
			h.leave("w1", ResultOK, 6, 7)
		}},
		{"a third renewal", func(h *hist) {
			h.hold("k1", 1, ResultOK, 0, 1)
			h.extend("k1", ResultOK, 2, 3)
			h.extend("k1", ResultOK, 4, 5)
			h.extend("k1", ResultOK, 6, 7)
		}},
		{"renewal refused below the limit", func(h *hist) {
			h.hold("k1", 1, ResultOK, 0, 1)
			h.extend("k1", ResultLimit, 2, 3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			tc.build(h)
			rc := check(t, h, 2)
			if !rc.Anomalous() {
				t.Fatalf("linearizable, want an anomaly\n%s", rc.Context)
			}
		})
	}
}

// TestModelRetriedRenewalMayCountTwice: the first renewal's answer got lost and its retry was
// answered ok: both attempts may have renewed, so a limit_exceeded after one more is fine;
// without the uncertainty it is not.
func TestModelRetriedRenewalMayCountTwice(t *testing.T) {
	for _, uncertain := range []bool{true, false} {
		h := &hist{}
		h.hold("k1", 1, ResultOK, 0, 1)
		h.extend("k1", ResultOK, 2, 3).Uncertain = uncertain
		h.extend("k1", ResultLimit, 4, 5)
		rc := check(t, h, 2)
		if rc.Anomalous() == uncertain {
			t.Fatalf("uncertain=%v: anomalous=%v\n%s", uncertain, rc.Anomalous(), rc.Context)
		}
	}
}

// keyedExtend is a renewal of key's hold with Idempotency-Key rkey.
func (h *hist) keyedExtend(key, rkey string, res Result, call, ret int64) *Op {
	op := h.extend(key, res, call, ret)
	op.RenewKey = rkey
	return op
}

// TestModelKeyedRenewalCountsOnce: a renewal with an Idempotency-Key is applied at most once,
// however many attempts or ops carry the key, and a replay is ok even at the limit
// (max_extensions 2). Without the key's slot the anomalies pass (a retried keyed renewal may
// count twice) and the replay at the limit fails.
func TestModelKeyedRenewalCountsOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		anomalous bool
		build     func(h *hist)
	}{
		{"retried, then refused at one renewal", true, func(h *hist) {
			e := h.keyedExtend("k1", "x1", ResultOK, 2, 3)
			e.Uncertain, e.Tries = true, 3
			h.extend("k1", ResultLimit, 4, 5)
		}},
		{"retried, then one more", false, func(h *hist) {
			e := h.keyedExtend("k1", "x1", ResultOK, 2, 3)
			e.Uncertain, e.Tries = true, 3
			h.extend("k1", ResultOK, 4, 5)
			h.extend("k1", ResultLimit, 6, 7)
		}},
		{"re-sent after unknown, then refused at one renewal", true, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultUnknown, 2, 3)
			h.keyedExtend("k1", "x1", ResultOK, 4, 5).Replayed = true
			h.extend("k1", ResultLimit, 6, 7)
		}},
		{"re-sent after unknown, then one more", false, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultUnknown, 2, 3)
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.extend("k1", ResultOK, 6, 7)
			h.extend("k1", ResultLimit, 8, 9)
		}},
		{"replayed at the limit", false, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 2, 3)
			h.extend("k1", ResultOK, 4, 5)
			h.keyedExtend("k1", "x1", ResultOK, 6, 7).Replayed = true
		}},
		{"replay refused", true, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 2, 3)
			h.extend("k1", ResultOK, 4, 5)
			h.keyedExtend("k1", "x1", ResultLimit, 6, 7)
		}},
		{"two keys renew twice", false, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 2, 3)
			h.keyedExtend("k1", "x2", ResultOK, 4, 5)
			h.keyedExtend("k1", "x3", ResultLimit, 6, 7)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			h.hold("k1", 1, ResultOK, 0, 1)
			tc.build(h)
			if rc := check(t, h, 2); rc.Anomalous() != tc.anomalous {
				t.Fatalf("anomalous=%v, want %v\n%s", rc.Anomalous(), tc.anomalous, rc.Context)
			}
		})
	}
}

// TestModelRenewalKeyReusedForAnotherHold: once a renewal key renewed k1, a renewal of k2
// with it is refused idempotency_mismatch and uses none of k2's renewals
// (max_extensions 2); an ok answer to it, or a mismatch for a key that never applied, is an
// anomaly.
func TestModelRenewalKeyReusedForAnotherHold(t *testing.T) {
	for _, tc := range []struct {
		name      string
		anomalous bool
		build     func(h *hist)
	}{
		{"refused, k2 renews twice", false, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.keyedExtend("k2", "x1", ResultMismatch, 6, 7)
			h.extend("k2", ResultOK, 8, 9)
			h.extend("k2", ResultOK, 10, 11)
			h.extend("k2", ResultLimit, 12, 13)
		}},
		{"refused, counted as k2's renewal", true, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.keyedExtend("k2", "x1", ResultMismatch, 6, 7)
			h.extend("k2", ResultOK, 8, 9)
			h.extend("k2", ResultLimit, 10, 11)
		}},
		{"renewed k2", true, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.keyedExtend("k2", "x1", ResultOK, 6, 7)
		}},
		{"answered as k1's replay", true, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.keyedExtend("k2", "x1", ResultOK, 6, 7).Replayed = true
		}},
		{"unknown outcome", false, func(h *hist) {
			h.keyedExtend("k1", "x1", ResultOK, 4, 5)
			h.keyedExtend("k2", "x1", ResultUnknown, 6, 7)
			h.extend("k2", ResultOK, 8, 9)
			h.extend("k2", ResultOK, 10, 11)
			h.extend("k2", ResultLimit, 12, 13)
		}},
		{"mismatch for a key never applied", true, func(h *hist) {
			h.extend("k1", ResultOK, 4, 5)
			h.extend("k1", ResultOK, 6, 7)
			h.keyedExtend("k1", "x1", ResultLimit, 8, 9)
			h.keyedExtend("k2", "x1", ResultMismatch, 10, 11)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hist{}
			h.hold("k1", 1, ResultOK, 0, 1)
			h.hold("k2", 1, ResultOK, 2, 3)
			tc.build(h)
			if rc := check(t, h, 3); rc.Anomalous() != tc.anomalous {
				t.Fatalf("anomalous=%v, want %v\n%s", rc.Anomalous(), tc.anomalous, rc.Context)
			}
		})
	}
}

// TestModelRenewalRetriedTwiceMayCountThrice: two attempts without an answer, then one
// refused at the limit: both earlier attempts may have renewed (max_extensions 2).
func TestModelRenewalRetriedTwiceMayCountThrice(t *testing.T) {
	for _, tries := range []int{3, 2} {
		h := &hist{}
		h.hold("k1", 1, ResultOK, 0, 1)
		e := h.extend("k1", ResultLimit, 2, 5)
		e.Uncertain, e.Tries = true, tries
		rc := check(t, h, 2)
		if rc.Anomalous() != (tries == 2) {
			t.Fatalf("tries=%d: anomalous=%v\n%s", tries, rc.Anomalous(), rc.Context)
		}
	}
}

// refWorld is the reference simulation: holds and entries by key, a line of entry keys.
type refWorld struct {
	capacity int64
	used     int64 // held + confirmed of bucket a
	held     int64
	status   map[string]string // key -> held, confirmed, cancelled, waiting, left
	qty      map[string]int64
	renewals map[string]int
	// applied holds the renewal keys that renewed a hold, by hold key: a later use of one is
	// answered ok as a replay whatever the hold's status, and renews nothing.
	applied map[string][]string
	line    []string
}

func (w *refWorld) free() int64 { return w.capacity - w.used }

func (w *refWorld) cancel(key string) {
	if w.status[key] == "held" {
		w.held -= w.qty[key]
	}
	w.used -= w.qty[key]
	w.status[key] = "cancelled"
	var rest []string
	for _, e := range w.line {
		if w.qty[e] <= w.free() {
			w.used += w.qty[e]
			w.held += w.qty[e]
			w.status[e] = "held"
			continue
		}
		rest = append(rest, e)
	}
	w.line = rest
}

// randomHistory is a sequential history of n operations of the reference on bucket a.
func randomHistory(seed int64, n int) *hist {
	rng := rand.New(rand.NewSource(seed))
	w := &refWorld{capacity: 3, status: map[string]string{}, qty: map[string]int64{}, renewals: map[string]int{}, applied: map[string][]string{}}
	h := &hist{}
	var keys []string
	for i := 0; i < n; i++ {
		t := int64(2 * i)
		var key string
		if len(keys) > 0 {
			key = keys[rng.Intn(len(keys))]
		}
		offer := key != "" && key[0] == 'w'
		st := w.status[key]
		switch r := rng.Intn(8); {
		case r == 0 || key == "":
			k, q := fmt.Sprintf("k%d", i), int64(1+rng.Intn(2))
			keys = append(keys, k)
			res := ResultSoldOut
			if q <= w.free() {
				res, w.status[k], w.qty[k] = ResultOK, "held", q
				w.used += q
				w.held += q
			}
			h.hold(k, q, res, t, t+1)
		case r == 1:
			k, q := fmt.Sprintf("w%d", i), int64(1+rng.Intn(2))
			keys = append(keys, k)
			res := ResultConflict
			if q > w.free() {
				res, w.status[k], w.qty[k] = ResultOK, "waiting", q
				w.line = append(w.line, k)
			}
			h.join(k, q, res, t, t+1).Qty = q
		case r == 2 && offer:
			res := ResultNotFound
			if st == "waiting" {
				res, w.status[key] = ResultOK, "left"
				var rest []string
				for _, e := range w.line {
					if e != key {
						rest = append(rest, e)
					}
				}
				w.line = rest
			}
			h.leave(key, res, t, t+1)
		case r == 3 && len(w.applied[key]) > 0 && rng.Intn(2) == 0:
			// A renewal key that renewed this hold, sent again: the first answer, renews nothing.
			rkey := w.applied[key][rng.Intn(len(w.applied[key]))]
			op := h.keyedExtend(key, rkey, ResultOK, t, t+1)
			op.Qty, op.Replayed = w.qty[key], true
		case r == 3:
			var rkey string
			if rng.Intn(2) == 0 {
				rkey = fmt.Sprintf("x%d", i) // a renewal with its own key, half the time
			}
			res := ResultConflict
			switch {
			case st == "held" && w.renewals[key] < DefaultMaxExtensions:
				res = ResultOK
				w.renewals[key]++
				if rkey != "" {
					w.applied[key] = append(w.applied[key], rkey)
				}
			case st == "held":
				res = ResultLimit
			case st != "confirmed" && st != "cancelled":
				continue // not a hold (yet): the workload renews holds it has
			}
			h.keyedExtend(key, rkey, res, t, t+1).Qty = w.qty[key]
		case r == 4 && (st == "held" || st == "confirmed" || st == "cancelled"):
			res := ResultConflict
			if st == "held" {
				res, w.status[key] = ResultOK, "confirmed"
				w.held -= w.qty[key]
			} else if st == "confirmed" {
				res = ResultOK
			}
			h.add(Op{Kind: KindConfirm, Key: key, Offer: offer, Buckets: []string{"a"}, Qty: w.qty[key], Result: res, Status: w.status[key]}, t, t+1)
		case r == 5 && (st == "held" || st == "confirmed" || st == "cancelled"):
			if st != "cancelled" {
				w.cancel(key)
			}
			h.add(Op{Kind: KindCancel, Key: key, Offer: offer, Buckets: []string{"a"}, Qty: w.qty[key], Result: ResultOK, Status: "cancelled"}, t, t+1)
		case r == 6 && offer:
			op := Op{Kind: KindGet, Key: key, Offer: true, Buckets: []string{"a"}, Qty: w.qty[key], Result: ResultNotFound}
			if st == "held" || st == "confirmed" || st == "cancelled" {
				op.Result, op.Status = ResultOK, st
			}
			h.add(op, t, t+1)
		default:
			h.read(w.held, w.used-w.held, w.capacity, t, t+1)
		}
	}
	return h
}

// TestModelAgreesWithReference: the reference's sequential histories are linearizable, and
// changing one read's answer by a unit makes them not.
func TestModelAgreesWithReference(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		h := randomHistory(seed, 120)
		if rc := check(t, h, 3); rc.Anomalous() {
			t.Fatalf("seed %d: the reference's history is not linearizable\n%s", seed, rc.Context)
		}
		for _, op := range h.ops {
			if op.Kind == KindRead {
				a := op.Avail["a"]
				a.Held++
				op.Avail["a"] = a
				break
			}
		}
		if rc := check(t, h, 3); !rc.Anomalous() {
			t.Fatalf("seed %d: a read off by one held unit passes", seed)
		}
	}
}

// TestModelAgreesWithReferenceOnRenewalKeys: the reference's keyed renewals and their
// replays are linearizable, and a replay answered as refused at the limit instead is not.
// A seed whose history has no replay of a hold at its limit is skipped by the mutation,
// and the test fails if too few seeds exercise it.
func TestModelAgreesWithReferenceOnRenewalKeys(t *testing.T) {
	replays, mutated := 0, 0
	for seed := int64(100); seed < 300; seed++ {
		h := randomHistory(seed, 240)
		if rc := check(t, h, 3); rc.Anomalous() {
			t.Fatalf("seed %d: the reference's history is not linearizable\n%s", seed, rc.Context)
		}
		// The hold's renewals so far, by hold key: a replay at DefaultMaxExtensions answered
		// limit_exceeded is what the model must refuse (the renewal it replays was applied).
		renewed := map[string]int{}
		for _, op := range h.ops {
			if op.Kind != KindExtend || op.Result != ResultOK {
				continue
			}
			if !op.Replayed {
				renewed[op.Key]++
				continue
			}
			replays++
			if renewed[op.Key] < DefaultMaxExtensions {
				continue
			}
			op.Result = ResultLimit
			if rc := check(t, h, 3); !rc.Anomalous() {
				t.Fatalf("seed %d: a replay of renewal key %s at the limit answered limit_exceeded passes", seed, op.RenewKey)
			}
			op.Result = ResultOK
			mutated++
			break
		}
	}
	if replays < 20 || mutated < 5 {
		t.Fatalf("the reference made %d replays, %d at the limit: too few to test the model", replays, mutated)
	}
}

// TestModelRetriedJoinMayMakeTwoEntries: a join carries no Idempotency-Key, so an attempt
// whose answer was lost and its retry may both apply: the first entry is offered (a hold the
// client never learns of) and the retry, answered ok, makes a second entry of the same user,
// which waits and is left. Without the uncertainty the history is an anomaly: the second
// join found units it should not have, or the leave an entry that was offered.
func TestModelRetriedJoinMayMakeTwoEntries(t *testing.T) {
	for _, uncertain := range []bool{true, false} {
		h := &hist{}
		h.hold("k1", 1, ResultOK, 0, 1)
		h.hold("k0", 2, ResultOK, 2, 3)
		h.hold("k4", 1, ResultOK, 4, 5) // 4 of 4: sold out
		// The join's first attempt (at 6) applies: the entry waits; its answer is lost.
		h.trans(KindCancel, "k0", 2, ResultOK, "cancelled", 8, 9) // the first entry is offered
		j := h.join("w1", 2, ResultOK, 6, 10)                     // the retry: a second entry
		j.Uncertain, j.Tries = uncertain, 2
		h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 11, 12)
		h.hold("k2", 1, ResultOK, 13, 14) // the freed unit; the second entry needs 2
		h.read(4, 0, 4, 15, 16)
		h.leave("w1", ResultOK, 17, 18)
		rc := check(t, h, 4)
		if rc.Anomalous() == uncertain {
			t.Fatalf("uncertain=%v: anomalous=%v\n%s", uncertain, rc.Anomalous(), rc.Context)
		}
	}
}

// TestModelRetriedJoinRefusedWhileTheFirstWaits: the retry of a join whose first attempt
// applied is refused (the user is waiting already); the client does not know the entry,
// which waits and is offered later.
func TestModelRetriedJoinRefusedWhileTheFirstWaits(t *testing.T) {
	h := &hist{}
	h.hold("k1", 2, ResultOK, 0, 1)
	j := h.join("w1", 1, ResultConflict, 2, 5)
	j.Uncertain, j.Tries = true, 2
	h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 6, 7)
	h.read(1, 0, 2, 8, 9) // the first attempt's entry was offered
	wantClass(t, check(t, h, 2), ClassNone)
}

func (h *hist) keyedJoin(key string, q int64, res Result, call, ret int64) *Op {
	op := h.join(key, q, res, call, ret)
	op.Keyed = true
	return op
}

// TestModelKeyedJoinRetriedIsOneEntry: a join with an Idempotency-Key whose first answer was
// lost: the first attempt's entry waits and is offered before the retry is answered, and the
// retry is answered ok with that entry (the server's replay), so the client's leave finds it
// offered and its get finds the offer held: one entry. The history that the keyless model
// allows (TestModelRetriedJoinMayMakeTwoEntries: the retry a second entry, which waits and is
// left) is an anomaly with the key.
func TestModelKeyedJoinRetriedIsOneEntry(t *testing.T) {
	build := func(h *hist) *Op {
		h.hold("k1", 1, ResultOK, 0, 1)
		h.hold("k0", 2, ResultOK, 2, 3)
		h.hold("k4", 1, ResultOK, 4, 5) // 4 of 4: sold out
		// The join's first attempt (at 6) applies: the entry waits; its answer is lost.
		h.trans(KindCancel, "k0", 2, ResultOK, "cancelled", 8, 9) // the entry is offered
		j := h.keyedJoin("w1", 2, ResultOK, 6, 10)                // the retry: a replay
		j.Uncertain, j.Tries = true, 2
		return j
	}
	h := &hist{}
	build(h)
	h.leave("w1", ResultNotFound, 11, 12) // offered: no longer waiting
	h.getOffer("w1", "held", ResultOK, 13, 14)
	h.read(4, 0, 4, 15, 16)
	wantClass(t, check(t, h, 4), ClassNone)

	h = &hist{}
	build(h)
	h.trans(KindCancel, "k1", 1, ResultOK, "cancelled", 11, 12)
	h.hold("k2", 1, ResultOK, 13, 14)
	h.read(4, 0, 4, 15, 16)
	h.leave("w1", ResultOK, 17, 18) // a second entry of the key: not with a key
	if rc := check(t, h, 4); !rc.Anomalous() {
		t.Fatalf("a keyed join made two entries, and the model allows it\n%s", rc.Context)
	}
}

// TestModelKeyedJoinRefusedRetryMayHideALaterAttempt: the retry of a keyed join is refused
// (the units were free then), and the earlier attempt, which got no answer, joins later, once
// a hold took the units: the cancellation of that hold offers them to it. Without the
// uncertainty the held unit after the cancellation is an anomaly.
func TestModelKeyedJoinRefusedRetryMayHideALaterAttempt(t *testing.T) {
	for _, uncertain := range []bool{true, false} {
		h := &hist{}
		j := h.keyedJoin("w1", 1, ResultConflict, 0, 5)
		j.Uncertain, j.Tries = uncertain, 2
		h.hold("k1", 2, ResultOK, 6, 7) // sold out: the earlier attempt may join now
		h.trans(KindCancel, "k1", 2, ResultOK, "cancelled", 8, 9)
		h.read(1, 0, 2, 10, 11) // the unit offered to the earlier attempt's entry
		rc := check(t, h, 2)
		if rc.Anomalous() == uncertain {
			t.Fatalf("uncertain=%v: anomalous=%v\n%s", uncertain, rc.Anomalous(), rc.Context)
		}
	}
}

// TestOwnHoldRenewalsBound: the workload's bound on a hold's renewals counts a keyed
// renewal once however often its key is sent, a renewal without a key once per attempt that
// may have applied, and fails an answer reporting more (or more than max_extensions).
func TestOwnHoldRenewalsBound(t *testing.T) {
	h := &ownHold{spec: &ResourceSpec{ID: "r", MaxExtensions: 3}, id: "h1"}
	answer := func(ext int) *Op {
		op := &Op{Kind: KindGet, Result: ResultOK, Extensions: ext}
		h.checkRenewals(op)
		return op
	}
	h.mayRenew(&Op{Kind: KindExtend, RenewKey: "x1", Result: ResultUnknown, Tries: 2, Uncertain: true}, false)
	h.mayRenew(&Op{Kind: KindExtend, RenewKey: "x1", Result: ResultOK, Tries: 1, Replayed: true}, true)
	if h.renewals != 1 || answer(1).Result != ResultOK || answer(2).Result != ResultError {
		t.Fatalf("a keyed renewal sent twice: bound %d, want 1", h.renewals)
	}
	h.mayRenew(&Op{Kind: KindExtend, RenewKey: "x2", Result: ResultLimit, Tries: 1}, false)
	h.mayRenew(&Op{Kind: KindExtend, Result: ResultConflict, Tries: 2, Uncertain: true}, false)
	if h.renewals != 2 || answer(2).Result != ResultOK || answer(3).Result != ResultError {
		t.Fatalf("a refused keyed renewal and a retried refused one without a key: bound %d, want 2", h.renewals)
	}
	h.mayRenew(&Op{Kind: KindExtend, Result: ResultOK, Tries: 3, Uncertain: true}, false)
	if h.renewals != 5 || answer(3).Result != ResultOK || answer(4).Result != ResultError {
		t.Fatalf("past max_extensions: bound %d, answer(4) must fail", h.renewals)
	}
}

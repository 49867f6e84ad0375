package booking

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestHashIndexAgainstModel: a hashIndex answers like a map of strings under random sets,
// removals and lookups (fixed seeds), with full hashes and with hashes narrowed to a few bits,
// where nearly every key collides and lives in the overflow map, and its clones answer alike.
func TestHashIndexAgainstModel(t *testing.T) {
	for _, mask := range []uint64{^uint64(0), 7, 1, 0} {
		for _, seed := range []uint64{1, 2, 3, 4} {
			t.Run(fmt.Sprintf("mask=%x/seed=%d", mask, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, mask))
				// The owner: positions hold keys (a key may sit at several, as superseded
				// idempotency entries do); the index maps a key to one of its positions.
				var owner []string
				keyAt := func(p uint64) string { return owner[p] }
				model := map[string]uint64{}
				x := newHashIndex(4)
				x.mask = mask
				check := func(x *hashIndex, model map[string]uint64, when string) {
					t.Helper()
					if x.len() != len(model) {
						t.Fatalf("%s: %d keys, model %d", when, x.len(), len(model))
					}
					for k, want := range model {
						if got, ok := x.get(k, keyAt); !ok || got != want {
							t.Fatalf("%s: get(%q) = %d, %v; model %d", when, k, got, ok, want)
						}
					}
					for range 20 {
						k := fmt.Sprintf("k%d", rng.IntN(300))
						got, ok := x.get(k, keyAt)
						want, wok := model[k]
						if ok != wok || got != want {
							t.Fatalf("%s: get(%q) = %d, %v; model %d, %v", when, k, got, ok, want, wok)
						}
					}
				}
				for step := range 3000 {
					k := fmt.Sprintf("k%d", rng.IntN(200))
					switch op := rng.IntN(10); {
					case op < 6: // a new position for k (new or superseding)
						owner = append(owner, k)
						x.set(k, uint64(len(owner)-1), keyAt)
						model[k] = uint64(len(owner) - 1)
					case op < 9:
						x.remove(k, keyAt)
						delete(model, k)
					default:
						c := x.clone()
						cm := map[string]uint64{}
						for k, v := range model {
							cm[k] = v
						}
						check(c, cm, fmt.Sprintf("clone at step %d", step))
						x = c // go on with the clone: the original is checked already
					}
					if step%50 == 0 {
						check(x, model, fmt.Sprintf("step %d", step))
					}
				}
				check(x, model, "end")
				if mask <= 7 && len(x.over) == 0 {
					t.Fatal("narrowed hashes made no collision: the test exercises nothing")
				}
			})
		}
	}
}

// narrow rebuilds x with hashes narrowed by mask (collisions for nearly every key).
func narrow(x *hashIndex, mask uint64, keyAt func(uint64) string) {
	var all []uint64
	for _, p := range x.m {
		all = append(all, p)
	}
	for _, p := range x.over {
		all = append(all, p)
	}
	x.m, x.over, x.mask = map[uint64]uint64{}, nil, mask
	for _, p := range all {
		x.set(keyAt(p), p, keyAt)
	}
}

// TestStateWithCollidingIndexes: a State whose hold and idempotency indexes collide on nearly
// every key (hashes narrowed to 2 bits) decides and answers exactly like a State with full
// hashes under the same random commands (fixed seeds): new holds, replays of their keys,
// cancellations, lookups of known and unknown holds and keys, pruning and clones.
func TestStateWithCollidingIndexes(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			full := MustCreate(t, map[string]int64{"a": MaxCapacity, "b": MaxCapacity}, time.Hour)
			coll := full.Clone()
			narrowed := false
			now := t0
			var ids, keys []string
			for step := range 2000 {
				now = now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
				if !narrowed && coll.holds.byID != nil && coll.idem != nil {
					narrow(coll.holds.byID, 3, coll.holds.idAt)
					narrow(coll.idem.seq, 3, coll.idemSeqKey)
					narrowed = true
				}
				var fe, ce []Event
				var ferr, cerr error
				switch op := rng.IntN(20); {
				case op < 12 || len(ids) == 0: // a hold, sometimes with a known key (a replay) or a known id
					id := fmt.Sprintf("h%d", step)
					if len(ids) > 0 && rng.IntN(10) == 0 {
						id = ids[rng.IntN(len(ids))]
					}
					key := fmt.Sprintf("key%d", step)
					if len(keys) > 0 && rng.IntN(4) == 0 {
						key = keys[rng.IntN(len(keys))]
					}
					cmd := PlaceHold{HoldID: id, IdempotencyKey: key, UserID: "u", Quantity: 1, Buckets: []string{"a", "b"}[:1+rng.IntN(2)]}
					fd, err1 := full.DecidePlaceHold(cmd, now)
					cd, err2 := coll.DecidePlaceHold(cmd, now)
					if !reflect.DeepEqual(fd, cd) {
						t.Fatalf("step %d: place %+v: %+v vs %+v", step, cmd, fd, cd)
					}
					fe, ce, ferr, cerr = fd.Events, cd.Events, err1, err2
					if err1 == nil && len(fd.Events) > 0 {
						ids, keys = append(ids, id), append(keys, key)
					}
				case op < 15:
					cmd := CancelHold{HoldID: ids[rng.IntN(len(ids))]}
					fe, ferr = full.DecideCancel(cmd, now)
					ce, cerr = coll.DecideCancel(cmd, now)
				case op < 16:
					cutoff := now.Add(-time.Duration(rng.IntN(300)) * time.Second)
					full.PruneIdempotency(cutoff)
					coll.PruneIdempotency(cutoff)
				case op < 17:
					full, coll = full.Clone(), coll.Clone()
				default: // lookups, known and not
					for _, id := range []string{ids[rng.IntN(len(ids))], fmt.Sprintf("nope%d", step)} {
						fh, fok := full.Hold(id)
						ch, cok := coll.Hold(id)
						if fok != cok || !reflect.DeepEqual(fh, ch) {
							t.Fatalf("step %d: Hold(%q): %v %+v vs %v %+v", step, id, fok, fh, cok, ch)
						}
					}
					for _, k := range []string{keys[rng.IntN(len(keys))], fmt.Sprintf("nokey%d", step)} {
						fi, fok := full.Idempotency(k)
						ci, cok := coll.Idempotency(k)
						if fok != cok || fi != ci {
							t.Fatalf("step %d: Idempotency(%q): %v %+v vs %v %+v", step, k, fok, fi, cok, ci)
						}
					}
				}
				if ErrorCode(ferr) != ErrorCode(cerr) || !reflect.DeepEqual(fe, ce) {
					t.Fatalf("step %d: %v %v vs %v %v", step, fe, ferr, ce, cerr)
				}
				for _, e := range fe {
					full.Apply(e)
				}
				for _, e := range ce {
					coll.Apply(e)
				}
			}
			if !narrowed || len(coll.holds.byID.over) == 0 || len(coll.idem.seq.over) == 0 {
				t.Fatalf("no collisions: narrowed %v", narrowed)
			}
			if full.HoldCount() != coll.HoldCount() || full.idemKeys() != coll.idemKeys() {
				t.Fatalf("%d holds, %d keys vs %d, %d", full.HoldCount(), full.idemKeys(), coll.HoldCount(), coll.idemKeys())
			}
		})
	}
}

package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// TestKindMapsAgainstModel: random sets, deletes and removals (with shrinkAll after, as the
// PID cache's sweep does) on a few kinds, with waves that fill a kind past shrinkMin and empty
// it, against a plain map: every identity resolves to the model's PID, len agrees, and a kind's
// map is nil exactly when the kind has no entry (an emptied map is dropped, so that it keeps no
// table, and is made again by the next set).
func TestKindMapsAgainstModel(t *testing.T) {
	const shrinkMin = 8
	kinds := []string{"resource", "payment", "other"}
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		var m kindMaps
		model := map[identityKey]*actor.PID{}
		inModel := func(kind string) int {
			n := 0
			for k := range model {
				if k.kind == kind {
					n++
				}
			}
			return n
		}
		for step := range 4000 {
			kind := kinds[r.IntN(len(kinds))]
			id := fmt.Sprintf("r%d", r.IntN(40))
			key := identityKey{kind: kind, identity: id}
			switch op := r.IntN(10); {
			case op < 4 || (step/500)%2 == 0 && op < 7: // waves: fill, then drain
				pid := actor.NewPID("local", fmt.Sprintf("%s/%s/%d", kind, id, step))
				m.set(kind, id, pid)
				model[key] = pid
			case op < 9:
				m.delete(kind, id, shrinkMin)
				delete(model, key)
			default: // the sweep: remove a few while looping, then shrink
				for k := range m.all() {
					if r.IntN(3) == 0 {
						m.of(k.kind).remove(k.identity)
						delete(model, k)
					}
				}
				m.shrinkAll(shrinkMin)
			}
			if m.len() != len(model) {
				t.Fatalf("seed %d step %d: len %d, model %d", seed, step, m.len(), len(model))
			}
			for _, kind := range kinds {
				if k := m.of(kind); k != nil && (k.pids == nil) != (inModel(kind) == 0) {
					t.Fatalf("seed %d step %d: kind %s: map nil %v with %d entries", seed, step, kind, k.pids == nil, inModel(kind))
				}
			}
			for i := range 40 {
				for _, kind := range kinds {
					id := fmt.Sprintf("r%d", i)
					want, wok := model[identityKey{kind: kind, identity: id}]
					got, ok := m.get(kind, id)
					if ok != wok || ok && got != want {
						t.Fatalf("seed %d step %d: %s/%s: got %v %v, want %v %v", seed, step, kind, id, got, ok, want, wok)
					}
				}
			}
		}
	}
}

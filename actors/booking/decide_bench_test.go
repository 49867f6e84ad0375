package booking

import (
	"fmt"
	"slices"
	"testing"
)

// benchBuckets are the 10 buckets of the benchmark resource (ten nights).
var benchBuckets = func() map[string]int64 {
	m := map[string]int64{}
	for i := range 10 {
		m[fmt.Sprintf("2026-03-%02d", i+1)] = MaxCapacity
	}
	return m
}()

// BenchmarkDecidePlaceHold measures DecidePlaceHold+Apply of accepted 3-night holds on one
// resource with 10 buckets: the actor's hot path. The state is reset every 10,000 holds
// (outside the timer) so that memory stays bounded whatever b.N is.
func BenchmarkDecidePlaceHold(b *testing.B) {
	for _, withKey := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency-key=%v", withKey), func(b *testing.B) {
			const block = 10_000
			keys := make([]string, 0, 10)
			for k := range benchBuckets {
				keys = append(keys, k)
			}
			// Three consecutive nights (ten windows, wrapping), built once: the request's
			// slice is the decoder's, not the model's, to allocate.
			slices.Sort(keys)
			windows := make([][]string, 10)
			for i := range windows {
				windows[i] = []string{keys[i], keys[(i+1)%10], keys[(i+2)%10]}
			}
			ids := make([]string, block)
			idem := make([]string, block)
			for i := range ids {
				ids[i] = fmt.Sprintf("h%08d", i)
				if withKey {
					idem[i] = fmt.Sprintf("key-%08d", i)
				}
			}
			fresh := MustCreate(b, benchBuckets, 0)
			s := fresh.Clone()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % block
				if j == 0 && i > 0 {
					b.StopTimer()
					s = fresh.Clone()
					b.StartTimer()
				}
				cmd := PlaceHold{HoldID: ids[j], IdempotencyKey: idem[j], UserID: "user-1", Quantity: 1,
					Buckets: windows[j%10]}
				d, err := s.DecidePlaceHold(cmd, t0)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range d.Events {
					s.Apply(e)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
		})
	}
}

// BenchmarkDecidePlaceHoldSoldOut measures the refusal path: every bucket is fully held.
func BenchmarkDecidePlaceHoldSoldOut(b *testing.B) {
	caps := map[string]int64{}
	for k := range benchBuckets {
		caps[k] = 1
	}
	s := MustCreate(b, caps, 0)
	i := 0
	for k := range caps {
		i++
		MustHold(b, s, fmt.Sprintf("fill-%d", i), 1, t0, k)
	}
	cmd := PlaceHold{HoldID: "h-new", UserID: "user-1", Quantity: 1, Buckets: []string{"2026-03-01", "2026-03-02", "2026-03-03"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, err := s.DecidePlaceHold(cmd, t0)
		if ErrorCode(err) != CodeSoldOut {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecidePlaceHoldOnly measures the decision alone (no Apply): a 3-night hold on a
// resource with 10 buckets and 1,000 holds, decided again and again against the same state.
// What the decision costs is what the actor pays before the commit; Apply is measured with
// it in BenchmarkDecidePlaceHold.
func BenchmarkDecidePlaceHoldOnly(b *testing.B) {
	s := MustCreate(b, benchBuckets, 0)
	for i := range 1000 {
		MustHold(b, s, fmt.Sprintf("fill-%d", i), 1, t0, "2026-03-05")
	}
	cmd := PlaceHold{HoldID: "h-new", UserID: "user-1", Quantity: 1, Buckets: []string{"2026-03-01", "2026-03-02", "2026-03-03"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecidePlaceHold(cmd, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecidePlaceHoldHot is BenchmarkDecidePlaceHold on a hot resource: a state that
// already holds 200,000 holds, each with an idempotency key, as the HTTP benchmark's one
// resource does after a few seconds (its stock never runs out and holds stay until they
// expire). Its hold and key indexes are large: lookups miss the caches, and inserts grow
// them. The state is made once per run and keeps growing (by b.N holds).
func BenchmarkDecidePlaceHoldHot(b *testing.B) {
	const filled = 200_000
	s := MustCreate(b, map[string]int64{"all": MaxCapacity}, 0)
	for i := range filled {
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: fmt.Sprintf("fill-%08d", i), IdempotencyKey: fmt.Sprintf("fill-key-%08d", i),
			UserID: "user-1", Quantity: 1, Buckets: []string{"all"}}, t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range d.Events {
			s.Apply(e)
		}
	}
	ids := make([]string, b.N)
	idem := make([]string, b.N)
	for i := range ids {
		ids[i] = fmt.Sprintf("h%08d", i)
		idem[i] = fmt.Sprintf("key-%08d", i)
	}
	buckets := []string{"all"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d, err := s.DecidePlaceHold(PlaceHold{HoldID: ids[i], IdempotencyKey: idem[i], UserID: "user-1", Quantity: 1, Buckets: buckets}, t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range d.Events {
			s.Apply(e)
		}
		if _, ok := s.Hold(ids[i]); !ok { // the after-image the actor reads back
			b.Fatal("hold not found")
		}
	}
}

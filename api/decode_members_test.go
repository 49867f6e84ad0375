package api

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/allot/allot/actors/booking"
)

// TestCheckMembersDuplicatesAgainstAModel: random nested bodies, objects of 0 to 3×listedMembers
// members (across the switch from the list to the map) with names from a small set, so that
// some repeat; checkMembers refuses a body exactly when one of its objects repeats a name.
func TestCheckMembersDuplicatesAgainstAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 8))
	allowAll := func(string, int, string) bool { return true }
	var gen func(b *strings.Builder, depth int) (dup bool)
	gen = func(b *strings.Builder, depth int) (dup bool) {
		n := rng.IntN(3*listedMembers + 1)
		if depth > 0 {
			n = rng.IntN(6)
		}
		pool := n + 1 + rng.IntN(n+1) // names drawn from a set a little larger than the object
		unique := rng.IntN(4) > 0     // or distinct names, in an order of their own
		offset := rng.IntN(n + 1)
		seen := map[string]bool{}
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			name := fmt.Sprintf("m%d", rng.IntN(pool))
			if unique {
				name = fmt.Sprintf("m%d", (i+offset)%n)
			}
			dup = dup || seen[name]
			seen[name] = true
			fmt.Fprintf(b, "%q:", name)
			switch r := rng.IntN(10); {
			case r == 0 && depth < 3:
				b.WriteByte('[')
				dup = gen(b, depth+1) || dup
				b.WriteByte(']')
			case r == 1 && depth < 3:
				dup = gen(b, depth+1) || dup
			default:
				b.WriteString("1")
			}
		}
		b.WriteByte('}')
		return dup
	}
	refused := 0
	for i := range 3000 {
		var b strings.Builder
		dup := gen(&b, 0)
		err := checkMembers([]byte(b.String()), allowAll)
		if dup != (err != nil) || (err != nil && booking.ErrorCode(err) != booking.CodeMalformed) {
			t.Fatalf("body %d %s: duplicate %v, checkMembers %v", i, b.String(), dup, err)
		}
		if dup {
			refused++
		}
	}
	if refused < 300 || refused > 2700 {
		t.Fatalf("%d of 3000 bodies had a duplicate: the generator does not test both sides", refused)
	}
}

// TestCheckMembersOfASmallBodyAllocateNoMap: the names of a request's small objects are
// compared in arrays on the stack, with no map per object: a small map is a 48-byte header and
// a 208-byte group, the size class of JetStream's subject index nodes (docs/PERFORMANCE.md,
// Round 8). Counted by size class: the decoder's own tokens allocate smaller objects.
func TestCheckMembersOfASmallBodyAllocateNoMap(t *testing.T) {
	allowAll := func(string, int, string) bool { return true }
	small := []byte(`{"id":"r1","capacity":{"all":6,"vip":2},"hold_ttl":"1h","tags":["a"]}`)
	const runs = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if err := checkMembers(small, allowAll); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	for i, c := range after.BySize {
		if c.Size == 208 {
			if n := c.Mallocs - before.BySize[i].Mallocs; n >= runs {
				t.Fatalf("%d runs of checkMembers on a 2-object body made %d objects of 208 bytes", runs, n)
			}
			return
		}
	}
	t.Fatal("no 208-byte size class")
}

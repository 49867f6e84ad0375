package booking

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestHoldClone(t *testing.T) {
	h := &Hold{ID: "h1", Buckets: []string{"a", "b"}, Quantity: 2, Status: StatusHeld, CreatedAt: t0}
	c := h.Clone()
	if c == h || !slices.Equal(c.Buckets, h.Buckets) || c.ID != h.ID || !c.CreatedAt.Equal(h.CreatedAt) {
		t.Fatalf("clone = %+v", c)
	}
	c.Buckets[0] = "z"
	c.Status = StatusExpired
	if h.Buckets[0] != "a" || h.Status != StatusHeld {
		t.Fatalf("clone shares memory with the original: %+v", h)
	}
}

func TestFingerprint(t *testing.T) {
	base := Fingerprint([]string{"2026-03-01", "2026-03-02"}, 2, "u1")
	if got := Fingerprint([]string{"2026-03-02", "2026-03-01"}, 2, "u1"); got != base {
		t.Fatalf("order matters: %q vs %q", got, base)
	}
	in := []string{"b", "a"}
	Fingerprint(in, 1, "u")
	if in[0] != "b" {
		t.Fatal("Fingerprint sorted its caller's slice")
	}
	type req struct {
		buckets []string
		qty     int64
		user    string
	}
	// Every pair of these must differ.
	reqs := []req{
		{[]string{"a", "b"}, 1, "u"},
		{[]string{"a"}, 1, "u"},
		{[]string{"b"}, 1, "u"},
		{[]string{"a", "b"}, 2, "u"},
		{[]string{"a", "b"}, 1, "v"},
		{[]string{"a|b"}, 1, "u"},      // key containing the old separator
		{[]string{"b"}, 1, "u|a"},      // user containing the old separator
		{[]string{"a", "b"}, 1, "u|1"}, // user looking like a quantity
		{[]string{"a", "b"}, 11, "u"},
		{[]string{"1|u|a", "b"}, 1, "u"},
		{[]string{"a", "a", "b"}, 1, "u"},
		{[]string{"|"}, 1, "u"},
		{[]string{"|", "|"}, 1, "u"},
		{[]string{"||"}, 1, "u"},
		{nil, 1, "u"},
		{nil, 1, "u|"},
		{[]string{""}, 1, "u"},
		{[]string{`\|`}, 1, "u"},
		{[]string{`\`, ""}, 1, "u"},
		{[]string{"a"}, 1, `u\`},
		{[]string{`|a`}, 1, `u\`},
	}
	seen := map[string]int{}
	for i, r := range reqs {
		fp := Fingerprint(r.buckets, r.qty, r.user)
		if j, dup := seen[fp]; dup {
			t.Errorf("requests %d %+v and %d %+v share fingerprint %q", j, reqs[j], i, r, fp)
		}
		seen[fp] = i
	}
}

// Requests without '|' or '\' keep the fingerprint they always had, so keys stored before
// the escaping fix still match their replays.
func TestFingerprintStableForPlainInput(t *testing.T) {
	if got, want := Fingerprint([]string{"2026-03-02", "2026-03-01"}, 2, "user-7"), "2|user-7|2026-03-01|2026-03-02"; got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
}

// FuzzFingerprint checks that Fingerprint ignores bucket order and tells apart requests that
// differ in quantity, user or the multiset of buckets. Bucket lists are the fuzz strings
// split on ',' (which bucket keys may not contain), so keys can hold any other byte.
func FuzzFingerprint(f *testing.F) {
	f.Add("a|b", int64(1), "u", "a,b", int64(1), "u", uint64(1))
	f.Add("b", int64(1), "u|a", "a,b", int64(1), "u", uint64(2))
	f.Add("2026-03-01,2026-03-02", int64(2), "u1", "2026-03-02,2026-03-01", int64(2), "u1", uint64(3))
	f.Add(`\|,a`, int64(1), `u\`, `|,a`, int64(1), `u\\`, uint64(4))
	f.Add("", int64(0), "", ",", int64(0), "", uint64(5))
	f.Fuzz(func(t *testing.T, b1 string, q1 int64, u1, b2 string, q2 int64, u2 string, seed uint64) {
		k1, k2 := strings.Split(b1, ","), strings.Split(b2, ",")
		fp1, fp2 := Fingerprint(k1, q1, u1), Fingerprint(k2, q2, u2)
		shuffled := slices.Clone(k1)
		rand.New(rand.NewPCG(seed, seed)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := Fingerprint(shuffled, q1, u1); got != fp1 {
			t.Fatalf("order matters: %q -> %q, %q -> %q", k1, fp1, shuffled, got)
		}
		s1, s2 := slices.Sorted(slices.Values(k1)), slices.Sorted(slices.Values(k2))
		same := q1 == q2 && u1 == u2 && slices.Equal(s1, s2)
		if same != (fp1 == fp2) {
			t.Fatalf("same request = %v but fingerprints %q and %q (buckets %q / %q, qty %d / %d, user %q / %q)",
				same, fp1, fp2, k1, k2, q1, q2, u1, u2)
		}
	})
}

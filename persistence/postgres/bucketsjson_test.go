package postgres

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestBucketsJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2026))
	keys := []string{"", "all", "floor-1", "a b", "~!#$%^*()_+-=[]{}|;':,./?", "x\"y", `back\slash`, "<tag>", "a&b", "tab\t", "é", "\x7f", "\xff", "\u2028"}
	cases := [][]string{nil, {}, {"all"}}
	for range 5000 {
		var ks []string
		for range rng.IntN(5) {
			ks = append(ks, keys[rng.IntN(len(keys))])
		}
		cases = append(cases, ks)
	}
	for _, ks := range cases {
		got, err := bucketsJSON(ks)
		if err != nil {
			t.Fatal(err)
		}
		if ks == nil {
			ks = []string{}
		}
		want, err := json.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Fatalf("bucketsJSON(%q) = %s, want %s", ks, got, want)
		}
	}
}

package postgres

import (
	"slices"
	"testing"
)

// TestLastByKey: the last item of a key wins, at the place of the key's first item; without
// a repeated key the items come back as they are. One arena serves every case, as a Store's
// serves one commit after another.
func TestLastByKey(t *testing.T) {
	a := new(commitArena)
	type kv struct{ k, v string }
	key := func(x kv) string { return x.k }
	for _, tc := range []struct {
		in, want []kv
	}{
		{nil, nil},
		{[]kv{{"a", "1"}}, []kv{{"a", "1"}}},
		{[]kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}, []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{[]kv{{"a", "1"}, {"b", "2"}, {"a", "3"}}, []kv{{"a", "3"}, {"b", "2"}}},
		{[]kv{{"a", "1"}, {"a", "2"}, {"b", "3"}, {"b", "4"}, {"a", "5"}}, []kv{{"a", "5"}, {"b", "4"}}},
	} {
		in := slices.Clone(tc.in)
		got := lastByKey(a, in, key)
		if !slices.Equal(got, tc.want) {
			t.Errorf("lastByKey(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("lastByKey changed its input: %v, was %v", in, tc.in)
		}
	}
}

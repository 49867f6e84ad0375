package sqlite

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestKeysJSONIsMarshal: keysJSON writes json.Marshal's bytes for random key lists, plain and
// with every byte JSON escapes (quotes, backslashes, HTML characters, control and non-ASCII
// bytes, invalid UTF-8), nil and empty included.
func TestKeysJSONIsMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 13))
	alphabet := []byte("abcXYZ019-:_. \"\\<>&\x00\x1f\x7f\xc3\xa9\xff")
	for range 5000 {
		var keys []string
		if rng.IntN(10) > 0 {
			keys = make([]string, rng.IntN(4))
		}
		plain := rng.IntN(2) == 0
		for i := range keys {
			b := make([]byte, rng.IntN(8))
			for j := range b {
				if plain {
					b[j] = alphabet[rng.IntN(12)]
				} else {
					b[j] = alphabet[rng.IntN(len(alphabet))]
				}
			}
			keys[i] = string(b)
		}
		want := keys
		if want == nil {
			want = []string{}
		}
		js, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keysJSON(keys)
		if err != nil || got != string(js) {
			t.Fatalf("keysJSON(%q) = %s, %v; want %s", keys, got, err, js)
		}
	}
}

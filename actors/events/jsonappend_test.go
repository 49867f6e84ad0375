package events

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendJSONPrimitivesMatchEncodingJSON: whenever a primitive claims a value, its bytes
// are encoding/json's; it claims every plain ASCII string and every UTC time of years 0-9999.
func TestAppendJSONPrimitivesMatchEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 12))
	for range 20000 {
		n := rng.IntN(12)
		raw := make([]byte, n)
		plain := true
		for i := range raw {
			raw[i] = byte(rng.IntN(256))
			if rng.IntN(4) > 0 {
				raw[i] = byte(0x20 + rng.IntN(0x5f)) // printable ASCII, most of the time
			}
			c := raw[i]
			plain = plain && c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
		}
		s := string(raw)
		got, ok := AppendJSONPlainString([]byte("x"), s)
		if ok != plain {
			t.Fatalf("AppendJSONPlainString(%q) claimed=%v, want %v", s, ok, plain)
		}
		if want, _ := json.Marshal(s); ok && !bytes.Equal(got[1:], want) {
			t.Fatalf("AppendJSONPlainString(%q) = %s, want %s", s, got[1:], want)
		}

		tm := time.Unix(rng.Int64N(400_000_000_000)-62_135_596_800, rng.Int64N(1e9)).UTC()
		if rng.IntN(10) == 0 {
			tm = tm.In(time.FixedZone("x", 3600))
		}
		got, ok = AppendJSONTime(nil, tm)
		_, off := tm.Zone()
		if wantOK := off == 0 && tm.Year() >= 0 && tm.Year() <= 9999; ok != wantOK {
			t.Fatalf("AppendJSONTime(%v) claimed=%v, want %v", tm, ok, wantOK)
		}
		if want, err := json.Marshal(tm); ok && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("AppendJSONTime(%v) = %s, want %s (%v)", tm, got, want, err)
		}
	}
}

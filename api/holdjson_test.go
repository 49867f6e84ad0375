package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
)

// stdHoldJSON is what writeJSON sends for h: the reference of appendHoldJSON.
func stdHoldJSON(t testing.TB, h wire.Hold) []byte {
	body, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return append(body, '\n')
}

// checkHoldJSON fails t when appendHoldJSON claims h and writes other bytes than encoding/json.
func checkHoldJSON(t testing.TB, h wire.Hold) (ok bool) {
	got, ok := appendHoldJSON(nil, &h)
	if !ok {
		return false
	}
	if want := stdHoldJSON(t, h); !bytes.Equal(got, want) {
		t.Fatalf("appendHoldJSON(%+v)\n got %s\nwant %s", h, got, want)
	}
	return true
}

func TestAppendHoldJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2026))
	plain := []string{"", "h-01J9Z8", "all", "wrk-user", "held", "a b", "~!#$%^*()_+-=[]{}|;':,./?"}
	escaped := []string{"x\"y", `back\slash`, "<tag>", "a&b", "tab\t", "é", "\x7f", "\xff", "\u2028"}
	str := func() string {
		if rng.IntN(20) == 0 {
			return escaped[rng.IntN(len(escaped))]
		}
		return plain[rng.IntN(len(plain))]
	}
	times := []time.Time{
		time.UnixMilli(1796000000123).UTC(), time.UnixMilli(0).UTC(), time.UnixMilli(1796000000000).UTC(),
		time.Date(2026, 12, 6, 9, 0, 0, 100_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 9, 0, 0, 7, time.FixedZone("x", 3600)), {},
	}
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	claimed := 0
	for range 20000 {
		h := wire.Hold{ID: str(), ResourceID: str(), Status: str(), Quantity: rng.Int64N(2000) - 1000, UserID: str(),
			CreatedAt: tm(), UpdatedAt: tm(), Extensions: rng.IntN(5) - 1, WaitlistEntryID: str(), ContactMasked: rng.IntN(2) == 0, Payment: str()}
		switch n := rng.IntN(4); n {
		case 0:
		case 1:
			h.Buckets = []string{}
		default:
			for range n {
				h.Buckets = append(h.Buckets, str())
			}
		}
		if rng.IntN(3) > 0 {
			x := tm()
			h.ExpiresAt = &x
		}
		if rng.IntN(10) == 0 {
			h.Contact = &wire.Contact{Name: "n"}
		}
		if checkHoldJSON(t, h) {
			claimed++
		}
	}
	if claimed < 1000 {
		t.Fatalf("the fast path took only %d of 20000 holds", claimed)
	}
	// The hold the edge answers most: what it must claim.
	exp := time.UnixMilli(1796000600000).UTC()
	h := wire.Hold{ID: "h-0123456789abcdef", ResourceID: "r-1", Status: "held", Buckets: []string{"all"}, Quantity: 1, UserID: "wrk-user",
		ExpiresAt: &exp, CreatedAt: time.UnixMilli(1796000000001).UTC(), UpdatedAt: time.UnixMilli(1796000000010).UTC()}
	if !checkHoldJSON(t, h) {
		t.Fatal("the common hold fell back to encoding/json")
	}
}

func FuzzAppendHoldJSON(f *testing.F) {
	f.Add("h-1", "r-1", "held", "all", int64(1), "u", int64(1796000000123), int64(5), 0, "", "")
	f.Add("h\"1", "r<1", "held", "a&b", int64(-1), "ü", int64(-62135596800001), int64(253402300800000), 3, "w-1", "captured")
	f.Fuzz(func(t *testing.T, id, rid, status, bucket string, q int64, user string, created, expires int64, ext int, entry, payment string) {
		exp := time.UnixMilli(expires).UTC()
		checkHoldJSON(t, wire.Hold{ID: id, ResourceID: rid, Status: status, Buckets: []string{bucket}, Quantity: q, UserID: user,
			ExpiresAt: &exp, CreatedAt: time.UnixMilli(created).UTC(), UpdatedAt: time.UnixMilli(created).UTC(), Extensions: ext,
			WaitlistEntryID: entry, Payment: payment})
	})
}

// TestAppendHoldJSONKnowsEveryField fails when wire.Hold gains a field: appendHoldJSON must
// write it too (or fall back when it is set), or replies would silently lose it.
func TestAppendHoldJSONKnowsEveryField(t *testing.T) {
	known := []string{"ID", "ResourceID", "Status", "Buckets", "Quantity", "UserID", "ExpiresAt", "CreatedAt", "UpdatedAt",
		"Extensions", "WaitlistEntryID", "Contact", "ContactMasked", "Payment"}
	typ := reflect.TypeFor[wire.Hold]()
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("wire.Hold's fields are %v; appendHoldJSON (api/holdjson.go) encodes %v: teach it the change", fields, known)
	}
}

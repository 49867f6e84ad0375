package events

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// checkHoldData fails t when appendHoldData claims d and writes other bytes than encoding/json.
func checkHoldData(t testing.TB, d HoldData) (ok bool) {
	got, ok := appendHoldData(nil, &d)
	if !ok {
		return false
	}
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendHoldData(%+v)\n got %s\nwant %s", d, got, want)
	}
	return true
}

func TestAppendHoldDataMatchesEncodingJSON(t *testing.T) {
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
		MS(time.UnixMilli(1796000000123)), MS(time.UnixMilli(0)), MS(time.UnixMilli(1796000000000)),
		time.Date(2026, 12, 6, 9, 0, 0, 100_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 9, 0, 0, 7, time.FixedZone("x", 3600)), {},
	}
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	claimed := 0
	for range 20000 {
		d := HoldData{ID: str(), ResourceID: str(), UserID: str(), Quantity: rng.Int64N(2000) - 1000, Status: str(),
			CreatedAt: tm(), ExpiresAt: tm(), UpdatedAt: tm(), Extensions: rng.IntN(4) - 1, WaitlistEntryID: str()}
		switch n := rng.IntN(4); n {
		case 0:
		case 1:
			d.Buckets = []string{}
		default:
			for range n {
				d.Buckets = append(d.Buckets, str())
			}
		}
		switch rng.IntN(20) {
		case 0:
			d.Payment = &PaymentData{}
		case 1:
			d.Refund = &Money{Amount: 1, Currency: "EUR"}
		}
		if checkHoldData(t, d) {
			claimed++
		}
	}
	if claimed < 1000 {
		t.Fatalf("the fast path took only %d of 20000 after-images", claimed)
	}
}

// TestAppendHoldDataClaimsAPlainHold: the after-image of a plain hold placed is appendHoldData's,
// and it matches encoding/json.
func TestAppendHoldDataClaimsAPlainHold(t *testing.T) {
	d := HoldData{ID: "h-1", ResourceID: "r-1", UserID: "u-1", Buckets: []string{"all"}, Quantity: 2, Status: "held",
		CreatedAt: MS(time.UnixMilli(1796000000001)), ExpiresAt: MS(time.UnixMilli(1796000600000)), UpdatedAt: MS(time.UnixMilli(1796000000001))}
	if !checkHoldData(t, d) {
		t.Fatal("a plain hold's after-image fell back to encoding/json")
	}
}

func FuzzAppendHoldData(f *testing.F) {
	f.Add("h-1", "r-1", "u", "all", int64(1), "held", int64(1796000000123), int64(5), 0, "")
	f.Add("h\"1", "r<1", "ü", "a&b", int64(-1), "held", int64(-62135596800001), int64(253402300800000), 3, "w-1")
	f.Fuzz(func(t *testing.T, id, rid, user, bucket string, q int64, status string, created, expires int64, ext int, entry string) {
		checkHoldData(t, HoldData{ID: id, ResourceID: rid, UserID: user, Buckets: []string{bucket}, Quantity: q, Status: status,
			CreatedAt: MS(time.UnixMilli(created)), ExpiresAt: MS(time.UnixMilli(expires)), UpdatedAt: MS(time.UnixMilli(created)),
			Extensions: ext, WaitlistEntryID: entry})
	})
}

// TestAppendHoldDataKnowsEveryField fails when HoldData gains a field: appendHoldData must
// write it too (or fall back when it is set), or after-images would silently lose it.
func TestAppendHoldDataKnowsEveryField(t *testing.T) {
	known := []string{"ID", "ResourceID", "UserID", "Buckets", "Quantity", "Status", "CreatedAt", "ExpiresAt", "UpdatedAt",
		"Extensions", "WaitlistEntryID", "Payment", "Refund"}
	typ := reflect.TypeFor[HoldData]()
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("HoldData's fields are %v; appendHoldData (holdjson.go) encodes %v: teach it the change", fields, known)
	}
}

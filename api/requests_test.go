package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/allot/allot/actors/booking"
)

func TestIdempotencyKeyHeader(t *testing.T) {
	h := http.Header{}
	if k, err := idempotencyKey(h); k != "" || err != nil {
		t.Fatalf("absent: %q %v", k, err)
	}
	h.Set(IdempotencyKeyHeader, "a b~!"+strings.Repeat("x", 123))
	if k, err := idempotencyKey(h); err != nil || len(k) != 128 {
		t.Fatalf("128 printable: %q %v", k, err)
	}
	for _, bad := range [][]string{{""}, {strings.Repeat("x", 129)}, {"a\tb"}, {"\x7f"}, {"é"}, {"a", "a"}} {
		h := http.Header{IdempotencyKeyHeader: bad}
		if _, err := idempotencyKey(h); booking.ErrorCode(err) != booking.CodeInvalid {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
}

func TestDecodeCreateResourceValid(t *testing.T) {
	id, op, err := decodeCreateResource([]byte(` {"price":{"currency":"EUR","amount":0},"hold_ttl":"90s","buckets":{"all":0,"2026-12-24T18:30":5},"name":"Zimmer \u00fc","id":"r-1"} `))
	if err != nil {
		t.Fatal(err)
	}
	if id != "r-1" || op.Name != "Zimmer ü" || op.HoldTtlMs != 90000 || op.Price.GetCurrency() != "EUR" || len(op.Buckets) != 2 || op.Buckets["2026-12-24T18:30"] != 5 {
		t.Fatalf("%s %v", id, op)
	}
	_, op, err = decodeCreateResource([]byte(`{"id":"r","name":"n","buckets":{"all":1},"hold_ttl":null,"price":null}`))
	if err != nil || op.HoldTtlMs != 0 || op.Price != nil {
		t.Fatalf("nulls for optional members: %v %v", op, err)
	}
}

func TestDecodeUpdateResourceValid(t *testing.T) {
	op, err := decodeUpdateResource([]byte(`{"hold_ttl":"2m"}`))
	if err != nil || op.HoldTtlMs == nil || *op.HoldTtlMs != 120000 || op.Name != nil || op.Buckets != nil {
		t.Fatalf("%v %v", op, err)
	}
}

func TestDecodePlaceHoldValid(t *testing.T) {
	op, err := decodePlaceHold([]byte(`{"buckets":["2026-12-25","2026-12-24"],"quantity":2,"user_id":"u-1"}`))
	if err != nil || op.Quantity != 2 || op.UserId != "u-1" || strings.Join(op.Buckets, ",") != "2026-12-25,2026-12-24" {
		t.Fatalf("%v %v", op, err)
	}
}

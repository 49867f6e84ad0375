package resource

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

func TestDecodeCommand(t *testing.T) {
	name, ttl := "New name", int64(90_000)
	tests := []struct {
		name string
		cmd  *protos.Command
		want any
		code string
	}{
		{
			name: "create",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_CreateResource{CreateResource: &protos.CreateResource{
				Name: "Room", Buckets: map[string]int64{"2026-01-01": 3}, HoldTtlMs: 60_000, Price: &protos.Money{Amount: 1299, Currency: "EUR"},
			}}},
			want: booking.CreateResource{ID: "r", Name: "Room", Buckets: map[string]int64{"2026-01-01": 3}, HoldTTL: time.Minute,
				Price: &booking.Money{Amount: 1299, Currency: "EUR"}},
		},
		{
			name: "create default ttl",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_CreateResource{CreateResource: &protos.CreateResource{Name: "Room"}}},
			want: booking.CreateResource{ID: "r", Name: "Room"},
		},
		{
			name: "update all",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_UpdateResource{UpdateResource: &protos.UpdateResource{
				Buckets: map[string]int64{"a": 5}, Name: &name, HoldTtlMs: &ttl,
			}}},
			want: booking.UpdateResource{Buckets: map[string]int64{"a": 5}, Name: &name, HoldTTL: ptr(90 * time.Second)},
		},
		{
			name: "update capacity only",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_UpdateResource{UpdateResource: &protos.UpdateResource{Buckets: map[string]int64{"a": 5}}}},
			want: booking.UpdateResource{Buckets: map[string]int64{"a": 5}},
		},
		{
			name: "place with a sealed contact",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_PlaceHold{PlaceHold: &protos.PlaceHold{
				Buckets: []string{"a"}, Quantity: 1, UserId: "u1", Contact: []byte("sealed")}}},
			want: booking.PlaceHold{HoldID: "h_new", Buckets: []string{"a"}, Quantity: 1, UserID: "u1", Contact: booking.SealedContact("sealed")},
		},
		{
			name: "place",
			cmd:  holdCmd("r", "k1", "u1", 2, "a", "b"),
			want: booking.PlaceHold{HoldID: "h_new", IdempotencyKey: "k1", Buckets: []string{"a", "b"}, Quantity: 2, UserID: "u1"},
		},
		{
			name: "create with rules and calendar",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_CreateResource{CreateResource: &protos.CreateResource{
				Name: "Hotel", Calendar: &protos.Calendar{From: "2026-12-01", To: "2027-01-01", EveryMs: 86_400_000, Capacity: 10},
				MaxExtensions: ptr(int64(0)), Allowance: &protos.Allowance{Percent: 10}, MaxPerUser: 4, Timezone: "Europe/Paris",
				WaitlistOfferTtlMs: 600_000,
			}}},
			want: booking.CreateResource{ID: "r", Name: "Hotel", Calendar: &booking.Calendar{From: "2026-12-01", To: "2027-01-01", Every: 24 * time.Hour, Capacity: 10},
				MaxExtensions: ptr(0), Allowance: booking.Allowance{Percent: 10}, MaxPerUser: 4, Timezone: "Europe/Paris", WaitlistOfferTTL: 10 * time.Minute},
		},
		{
			name: "update rules",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_UpdateResource{UpdateResource: &protos.UpdateResource{
				MaxExtensions: ptr(int64(3)), Allowance: &protos.Allowance{}, MaxPerUser: ptr(int64(2)), WaitlistOfferTtlMs: ptr(int64(1000)),
			}}},
			want: booking.UpdateResource{MaxExtensions: ptr(3), Allowance: &booking.Allowance{}, MaxPerUser: ptr(int64(2)), WaitlistOfferTTL: ptr(time.Second)},
		},
		{
			name: "too many extensions",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_UpdateResource{UpdateResource: &protos.UpdateResource{MaxExtensions: ptr(int64(1 << 40))}}},
			code: booking.CodeInvalid,
		},
		{
			name: "place by range",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_PlaceHold{PlaceHold: &protos.PlaceHold{
				Quantity: 1, UserId: "u1", Range: &protos.Range{From: "2026-12-24", To: "2026-12-27"}}}},
			want: booking.PlaceHold{HoldID: "h_new", Quantity: 1, UserID: "u1", Range: &booking.Range{From: "2026-12-24", To: "2026-12-27"}},
		},
		{
			name: "extend",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_ExtendHold{ExtendHold: &protos.ExtendHold{HoldId: "h1", UserId: "u1"}}},
			want: booking.ExtendHold{HoldID: "h1", UserID: "u1"},
		},
		{
			name: "extend with a key",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_ExtendHold{ExtendHold: &protos.ExtendHold{HoldId: "h1", UserId: "u1",
				IdempotencyKey: "s1.k"}}},
			want: booking.ExtendHold{HoldID: "h1", UserID: "u1", IdempotencyKey: "s1.k"},
		},
		{
			name: "join",
			cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_JoinWaitlist{JoinWaitlist: &protos.JoinWaitlist{
				Buckets: []string{"a"}, Quantity: 2, UserId: "u1"}}},
			want: booking.JoinWaitlist{EntryID: "w_new", OfferHoldID: "h_new", UserID: "u1", Buckets: []string{"a"}, Quantity: 2},
		},
		{
			name: "leave",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_LeaveWaitlist{LeaveWaitlist: &protos.LeaveWaitlist{EntryId: "w1", UserId: "u1"}}},
			want: booking.LeaveWaitlist{EntryID: "w1", UserID: "u1"},
		},
		{name: "nil join", cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_JoinWaitlist{}}, code: booking.CodeMalformed},
		{name: "get resource", cmd: getResourceCmd("r"), want: getResource{}},
		{name: "get hold", cmd: getHoldCmd("r", "h1"), want: getHold{HoldID: "h1"}},
		{name: "confirm", cmd: confirmCmd("r", "h1"), want: booking.ConfirmHold{HoldID: "h1"}},
		{name: "cancel", cmd: cancelCmd("r", "h1"), want: booking.CancelHold{HoldID: "h1"}},
		{name: "wrong resource", cmd: getResourceCmd("other"), code: booking.CodeMalformed},
		{name: "no resource", cmd: getResourceCmd(""), code: booking.CodeMalformed},
		{name: "no op", cmd: &protos.Command{ResourceId: "r"}, code: booking.CodeMalformed},
		{name: "nil create", cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_CreateResource{}}, code: booking.CodeMalformed},
		{name: "nil place", cmd: &protos.Command{ResourceId: "r", Op: &protos.Command_PlaceHold{}}, code: booking.CodeMalformed},
		{
			name: "negative ttl",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_CreateResource{CreateResource: &protos.CreateResource{Name: "x", HoldTtlMs: -1}}},
			code: booking.CodeInvalid,
		},
		{
			name: "overflowing ttl",
			cmd:  &protos.Command{ResourceId: "r", Op: &protos.Command_UpdateResource{UpdateResource: &protos.UpdateResource{HoldTtlMs: ptr(int64(1 << 62))}}},
			code: booking.CodeInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeCommand(tc.cmd, "r", newIDs{hold: "h_new", entry: "w_new"})
			if tc.code != "" {
				if booking.ErrorCode(err) != tc.code {
					t.Fatalf("err = %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decode:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestDecodeCopies: the decoded command shares no memory with the message.
func TestDecodeCopies(t *testing.T) {
	cmd := holdCmd("r", "", "u", 1, "a")
	got, err := decodeCommand(cmd, "r", newIDs{hold: "h"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.GetPlaceHold().Buckets[0] = "z"
	if got.(booking.PlaceHold).Buckets[0] != "a" {
		t.Fatal("decoded buckets alias the message")
	}
	c := createCmd("r", 0, map[string]int64{"a": 1})
	got, _ = decodeCommand(c, "r", newIDs{})
	c.GetCreateResource().Buckets["a"] = 9
	if got.(booking.CreateResource).Buckets["a"] != 1 {
		t.Fatal("decoded capacities alias the message")
	}
}

func TestHoldProto(t *testing.T) {
	h := booking.Hold{
		ID: "h1", ResourceID: "r", UserID: "u", IdempotencyKey: "k", Buckets: []string{"a", "b"}, Quantity: 3,
		Status: booking.StatusConfirmed, CreatedAt: base, ExpiresAt: base.Add(time.Minute), UpdatedAt: base.Add(time.Second),
		Contact: booking.SealedContact("sealed"),
	}
	want := &protos.Hold{
		Id: "h1", ResourceId: "r", Status: "confirmed", Buckets: []string{"a", "b"}, Quantity: 3, UserId: "u",
		CreatedAtMs: base.UnixMilli(), ExpiresAtMs: base.UnixMilli() + 60_000, UpdatedAtMs: base.UnixMilli() + 1000, IdempotencyKey: "k",
		Contact: []byte("sealed"),
	}
	got := holdProto(h)
	if got.String() != want.String() {
		t.Fatalf("holdProto:\n got %v\nwant %v", got, want)
	}
	h.Buckets[0] = "z"
	if got.Buckets[0] != "a" {
		t.Fatal("proto aliases the hold's buckets")
	}
}

func TestResourceProto(t *testing.T) {
	r := booking.Resource{ID: "r", Name: "Room", Price: &booking.Money{Amount: 5, Currency: "USD"}, HoldTTL: 90 * time.Second, CreatedAt: base, UpdatedAt: base.Add(time.Hour)}
	bs := []booking.Bucket{{Key: "a", Capacity: 3, Held: 1, Confirmed: 1}, {Key: "b", Capacity: 0}}
	got := resourceProto(r, bs, 7)
	want := &protos.Resource{
		Id: "r", Name: "Room", Price: &protos.Money{Amount: 5, Currency: "USD"}, HoldTtlMs: 90_000, Version: 7,
		Buckets:     map[string]*protos.Bucket{"a": {Capacity: 3, Held: 1, Confirmed: 1}, "b": {}},
		CreatedAtMs: base.UnixMilli(), UpdatedAtMs: base.Add(time.Hour).UnixMilli(),
	}
	if got.String() != want.String() {
		t.Fatalf("resourceProto:\n got %v\nwant %v", got, want)
	}
	if resourceProto(booking.Resource{ID: "r"}, nil, 0).GetPrice() != nil {
		t.Fatal("price without a price")
	}
}

func TestErrorProto(t *testing.T) {
	tests := []struct {
		err   error
		code  string
		retry int64
	}{
		{booking.Errorf(booking.CodeSoldOut, "none left"), booking.CodeSoldOut, 0},
		{booking.Errorf(booking.CodeBusy, "later"), booking.CodeBusy, 1500},
		{booking.Errorf(booking.CodeUnavailable, "later"), booking.CodeUnavailable, 1500},
		{errFenceLike{}, booking.CodeInternal, 0},
	}
	for _, tc := range tests {
		got := errorProto(tc.err, 1500*time.Millisecond)
		if got.GetCode() != tc.code || got.GetRetryAfterMs() != tc.retry {
			t.Errorf("errorProto(%v) = %v, want code %s retry %d", tc.err, got, tc.code, tc.retry)
		}
	}
	if m := errorProto(errFenceLike{}, 0).GetMessage(); m != "internal error" {
		t.Errorf("internal details leak: %q", m)
	}
}

type errFenceLike struct{}

func (errFenceLike) Error() string { return "secret driver detail" }

func ptr[T any](v T) *T { return &v }

// TestPlacedHoldStringsShareOneAllocation pins holdStrings: a placed hold's id and key are
// the command's, and the key follows the id in one string (one object in the heap, outside
// the 32- and 48-byte classes that JetStream's subject index keeps pinned).
func TestPlacedHoldStringsShareOneAllocation(t *testing.T) {
	cmd := holdCmd("r", "s1.0123456789012345678901234567890123456789abc", "u", 1, "a")
	got, err := decodeCommand(cmd, "r", newIDs{hold: "h_abcdefghijklmnopqrstuvwxyz"})
	if err != nil {
		t.Fatal(err)
	}
	p := got.(booking.PlaceHold)
	if p.HoldID != "h_abcdefghijklmnopqrstuvwxyz" || p.IdempotencyKey != "s1.0123456789012345678901234567890123456789abc" {
		t.Fatalf("id %q, key %q", p.HoldID, p.IdempotencyKey)
	}
	if unsafe.Pointer(unsafe.StringData(p.IdempotencyKey)) != unsafe.Add(unsafe.Pointer(unsafe.StringData(p.HoldID)), len(p.HoldID)) {
		t.Fatal("the key is not stored right after the id")
	}
	if unsafe.StringData(p.IdempotencyKey) == unsafe.StringData(cmd.GetPlaceHold().GetIdempotencyKey()) {
		t.Fatal("the key is the request's string")
	}
	got, _ = decodeCommand(holdCmd("r", "", "u", 1, "a"), "r", newIDs{hold: "h_x"})
	if p := got.(booking.PlaceHold); p.HoldID != "h_x" || p.IdempotencyKey != "" {
		t.Fatalf("without a key: id %q, key %q", p.HoldID, p.IdempotencyKey)
	}
}

package resource

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/protos"
)

// TestHoldReplyProtoIsTheReply: a hold answer's reply, built in one allocation, is the
// message built field by field as before, for bucket lists shorter and longer than the
// inline array, and shares no bucket list with the answer.
func TestHoldReplyProtoIsTheReply(t *testing.T) {
	for n := range 5 {
		for _, flags := range []bool{false, true} {
			h := booking.Hold{ID: "h1", ResourceID: "r", UserID: "u", IdempotencyKey: "k", Quantity: 2,
				Status: booking.StatusHeld, CreatedAt: base, ExpiresAt: base.Add(time.Minute), UpdatedAt: base,
				Extensions: 1, WaitlistEntryID: "w", Payment: "p", PaymentOpen: flags}
			for i := range n {
				h.Buckets = append(h.Buckets, fmt.Sprintf("2026-01-0%d", i+1))
			}
			a := activation.Answer{Hold: h, Replayed: flags, Stale: !flags}
			want := &protos.Reply{Hold: &protos.Hold{Id: "h1", ResourceId: "r", Status: "held", Buckets: append([]string(nil), h.Buckets...),
				Quantity: 2, UserId: "u", CreatedAtMs: base.UnixMilli(), ExpiresAtMs: base.UnixMilli() + 60_000, UpdatedAtMs: base.UnixMilli(),
				IdempotencyKey: "k", Extensions: 1, WaitlistEntryId: "w", Payment: "p", PaymentOpen: flags}, Replayed: flags, Stale: !flags}
			got := replyProto(&a, 0)
			if !proto.Equal(got, want) {
				t.Fatalf("%d buckets: got %v\nwant %v", n, got, want)
			}
			if (got.Hold.Buckets == nil) != (n == 0) {
				t.Fatalf("%d buckets: nil list %v", n, got.Hold.Buckets == nil)
			}
			if n > 0 {
				a.Hold.Buckets[0] = "z"
				if got.Hold.Buckets[0] == "z" {
					t.Fatalf("%d buckets: the reply aliases the answer's bucket list", n)
				}
			}
			if _, err := proto.Marshal(got); err != nil {
				t.Fatal(err)
			}
		}
	}
}

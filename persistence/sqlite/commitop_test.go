package sqlite

import (
	"context"
	"errors"
	"testing"
	"unsafe"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// TestCommitOpIsOneAllocationOutOfTheIndexNodesClass: a commit's op and its encoded batch are
// one object, the op pointing into it, and not of the 208-byte class that JetStream's subject
// index nodes live in (docs/PERFORMANCE.md, Round 8); an invalid batch makes no op.
func TestCommitOpIsOneAllocationOutOfTheIndexNodesClass(t *testing.T) {
	ctx := context.Background()
	b := createBatch("r1")
	b.Holds = []booking.Hold{newHold("r1", "h1")}
	c, err := newCommitOp(ctx, b, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.op.commit != &c.batch || c.op.ctx != ctx || c.batch.resourceID != "r1" || !c.batch.create || len(c.batch.holds) != holdWidth {
		t.Fatalf("op %+v, batch %+v", c.op, c.batch)
	}
	if size := unsafe.Sizeof(*c); size > 192 && size <= 208 {
		t.Fatalf("commitOp is %d bytes: the 208-byte size class", size)
	}
	if size := unsafe.Sizeof(op{}); size > 192 && size <= 208 {
		t.Fatalf("op is %d bytes: the 208-byte size class", size)
	}
	for _, bad := range []*persistence.Batch{nil, {}, {ResourceID: "r2", Resource: res("r3")}} {
		if c, err := newCommitOp(ctx, bad, true); c != nil || !errors.Is(err, errInvalidBatch) {
			t.Fatalf("batch %+v: op %v, error %v", bad, c, err)
		}
	}
}

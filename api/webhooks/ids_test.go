package webhooks

import (
	"testing"

	"github.com/allot/allot/actors/events"
)

// One resource's deliveries to one endpoint sort by (version, index), so that a batch of
// them appends to the deliveries' and attempts' primary keys instead of touching a leaf page
// per row; every (endpoint, event id) has its own id, and the id is the same every time.
func TestDeliveryIDsSortByVersionAndAreUnique(t *testing.T) {
	var ids []string // event ids: events.ID's, in version order per resource, then others
	for _, rid := range []string{"r", "r2", "r/x", "flash-1", "r/1"} {
		for _, v := range []uint64{0, 1, 2, 9, 10, 15, 16, 255, 256, 1 << 40, 1<<64 - 1} {
			for _, i := range []int{0, 1, 15, 16, 0xffff, 0x10000, 1 << 30} {
				ids = append(ids, events.ID(rid, v, i))
			}
		}
	}
	others := []string{"", "r", "r/1", "r/01/0", "r/1/00", "r/1/-1", "r/x/0", "r/1/x", "r/+1/0",
		"r/18446744073709551616/0", "r/1/4294967296", "evt_123"}
	seen := map[string]string{}
	for _, ep := range []string{"we_a", "we_b"} {
		prev := map[string]string{} // resource -> last id of a 4-digit index
		for n, ev := range append(append([]string(nil), ids...), others...) {
			id := DeliveryID(ep, ev)
			if id != DeliveryID(ep, ev) || len(id) < 28 || id[:4] != "dlv_" {
				t.Fatalf("%s %q: %q", ep, ev, id)
			}
			if old, dup := seen[id]; dup {
				t.Fatalf("%s %q: id %s already given to %s", ep, ev, id, old)
			}
			seen[id] = ep + " " + ev
			if n >= len(ids) {
				if len(id) != 28 {
					t.Fatalf("%q is not an events.ID: want the whole-event hash, got %s", ev, id)
				}
				continue
			}
			rid, _, idx, ok := splitEventID(ev)
			if !ok {
				t.Fatalf("%q: does not split", ev)
			}
			if idx > 0xffff {
				continue
			}
			if p := prev[rid]; p != "" && id <= p {
				t.Fatalf("%s %q: id %s not after %s", ep, ev, id, p)
			}
			prev[rid] = id
		}
	}
	a, b := DeliveryID("we_a", "r/1/0"), DeliveryID("we_a", "r/2/0")
	if a[:28] != b[:28] || a[:28] == DeliveryID("we_b", "r/1/0")[:28] || a[:28] == DeliveryID("we_a", "r2/1/0")[:28] {
		t.Fatal("prefix: want one per (endpoint, resource)")
	}
	if DeliveryID("we_a", "r/9/0") >= DeliveryID("we_a", "r/10/0") {
		t.Fatal("version 9 sorts after 10")
	}
}

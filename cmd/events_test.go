package cmd

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/cluster/clustertest"
)

// TestMainPublishesToEmbeddedNATS: a single node starts an embedded nats-server; a booking's
// events reach a durable consumer of the node's bus and GET /v1/events lists them; after a
// restart on the same data dir the stream still has them.
func TestMainPublishesToEmbeddedNATS(t *testing.T) {
	dir := t.TempDir()
	m := MustRunMain(t, func(c *NodeConfig) { c.DataDir = dir })
	if m.Bus() == nil {
		t.Fatal("a single node has no bus")
	}
	got := make(chan events.Record, 16)
	sub, err := m.Bus().Subscribe(context.Background(), bus.ConsumerConfig{Name: "test", Inbox: m.eventLog().(bus.Inbox)},
		func(_ context.Context, r events.Record) error {
			got <- r
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, m.DevIssuer())
	base := m.HTTPURL()
	if err := c.CreateResource(ctx, base, "hotel-1", map[string]int64{"2026-12-24": 1}, "10m"); err != nil {
		t.Fatal(err)
	}
	h, p, err := c.PlaceHold(ctx, base, "hotel-1", "k-1", "u-1", []string{"2026-12-24"}, 1)
	if err != nil || p != nil {
		t.Fatalf("hold: %v %+v", err, p)
	}
	want := []events.Type{events.ResourceCreated, events.HoldPlaced, events.BucketSoldOut}
	for i, typ := range want {
		select {
		case r := <-got:
			if r.Type != typ || r.ResourceID != "hotel-1" {
				t.Fatalf("event %d: %s %s, want %s", i, r.ID, r.Type, typ)
			}
			if typ == events.HoldPlaced && r.Subject != "u-1" {
				t.Fatalf("hold.placed subject %q", r.Subject)
			}
		case <-ctx.Done():
			t.Fatalf("event %d (%s) never arrived", i, typ)
		}
	}
	var list wire.EventList
	r, err := c.Do(ctx, http.MethodGet, base+"/v1/events?resource_id=hotel-1", "", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /v1/events: %v %+v", err, r)
	}
	if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Data) != len(want) || list.Data[1].ID != "hotel-1/2/0" {
		t.Fatalf("event log %+v, %v (hold %s)", list, err, h.ID)
	}
	sub.Stop()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := MustRunMain(t, func(c *NodeConfig) { c.DataDir = dir })
	st, err := m2.Bus().JetStream().Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != uint64(len(want)) {
		t.Fatalf("after a restart the stream has %+v, %v; want %d messages", info.State, err, len(want))
	}
}

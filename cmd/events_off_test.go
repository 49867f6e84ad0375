package cmd

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
)

// TestConfigEvents: --events is on or off, and off refuses a NATS cluster to publish to.
func TestConfigEvents(t *testing.T) {
	for _, tc := range []struct {
		events, nats string
		bad          string // part of the error; "" accepts
	}{
		{EventsOn, "", ""},
		{EventsOff, "", ""},
		{EventsOn, "nats://127.0.0.1:4222", ""},
		{EventsOff, "nats://127.0.0.1:4222", "--nats-url"},
		{"maybe", "", "want on or off"},
		{"", "", "want on or off"},
	} {
		c := DefaultNodeConfig()
		c.Events, c.NATSURL = tc.events, tc.nats
		err := c.validate()
		if tc.bad == "" && err != nil {
			t.Errorf("--events %q --nats-url %q: %v", tc.events, tc.nats, err)
		}
		if tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("--events %q --nats-url %q: got %v, want an error about %s", tc.events, tc.nats, err, tc.bad)
		}
	}
	if DefaultNodeConfig().Events != EventsOn {
		t.Fatal("events must be on by default")
	}
}

// TestMainEventsOffWritesNoOutboxRows: a node with --events off starts no bus and commits
// its bookings without events (GET /v1/events stays empty), while the bookings themselves
// are committed as usual.
func TestMainEventsOffWritesNoOutboxRows(t *testing.T) {
	m := MustRunMain(t, func(c *NodeConfig) { c.DataDir = t.TempDir(); c.Events = EventsOff })
	if m.Bus() != nil {
		t.Fatal("--events off started a bus")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, m.DevIssuer())
	base := m.HTTPURL()
	if err := c.CreateResource(ctx, base, "quiet-1", map[string]int64{"2026-12-24": 2}, "10m"); err != nil {
		t.Fatal(err)
	}
	h, p, err := c.PlaceHold(ctx, base, "quiet-1", "k-1", "u-1", []string{"2026-12-24"}, 1)
	if err != nil || p != nil {
		t.Fatalf("hold: %v %+v", err, p)
	}
	if _, p, err := c.Transition(ctx, base, "quiet-1", h.ID, "confirm"); err != nil || p != nil {
		t.Fatalf("confirm: %v %+v", err, p)
	}
	r, err := c.Do(ctx, http.MethodGet, base+"/v1/events", "", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /v1/events: %v %+v", err, r)
	}
	var list wire.EventList
	if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Data) != 0 {
		t.Fatalf("--events off recorded events: %+v, %v", list, err)
	}
	r, err = c.Do(ctx, http.MethodGet, base+"/v1/resources/quiet-1/availability", "", nil)
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"available":1`) {
		t.Fatalf("availability after a confirmed hold: %v %+v", err, r)
	}
}

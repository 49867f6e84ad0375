package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api/wire"
)

// TestEventsLog walks the README flow and reads its events back: in order, paged by
// cursors without gaps or repeats, filtered; bad queries are 4xx problems.
func TestEventsLog(t *testing.T) {
	e := MustServer(t, func(c *Config) { c.Events = c.Dispatcher.(*actorDispatcher).store })
	e.mustCreate()
	h := e.mustHold(`{"buckets":["2026-12-26"],"quantity":1,"user_id":"u-1"}`)
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds/"+h.ID+"/confirm", ""), http.StatusOK, nil)

	var all wire.EventList
	e.ok(e.do("GET", "/v1/events", ""), http.StatusOK, &all)
	want := []events.Type{events.ResourceCreated, events.HoldPlaced, events.BucketSoldOut, events.HoldConfirmed}
	if len(all.Data) != len(want) || all.HasMore || all.Object != "list" {
		t.Fatalf("events %+v", all)
	}
	for i, ev := range all.Data {
		if ev.Type != want[i] || ev.ResourceID != "hotel-1" {
			t.Fatalf("event %d: %s %s, want %s", i, ev.ID, ev.Type, want[i])
		}
		if i > 0 && ev.Version < all.Data[i-1].Version {
			t.Fatalf("versions out of order: %s after %s", ev.ID, all.Data[i-1].ID)
		}
	}
	if all.Data[1].Subject != "u-1" {
		t.Fatalf("hold.placed subject %q", all.Data[1].Subject)
	}

	// One at a time through the cursors: the same events, then an empty page.
	var ids []string
	after := ""
	for range 10 {
		var page wire.EventList
		e.ok(e.do("GET", "/v1/events?limit=1&after="+url.QueryEscape(after), ""), http.StatusOK, &page)
		if len(page.Data) == 0 {
			if page.HasMore || page.NextCursor != "" {
				t.Fatalf("empty page %+v", page)
			}
			break
		}
		ids = append(ids, page.Data[0].ID)
		if page.HasMore != (len(ids) < len(want)) {
			t.Fatalf("page %d has_more %v", len(ids), page.HasMore)
		}
		after = page.NextCursor
	}
	if len(ids) != len(want) || ids[3] != all.Data[3].ID {
		t.Fatalf("paged ids %v", ids)
	}

	var typed wire.EventList
	e.ok(e.do("GET", "/v1/events?type=hold.confirmed&resource_id=hotel-1", ""), http.StatusOK, &typed)
	if len(typed.Data) != 1 || typed.Data[0].ID != all.Data[3].ID {
		t.Fatalf("by type %+v", typed)
	}
	e.ok(e.do("GET", "/v1/events?resource_id=other", ""), http.StatusOK, &typed)
	if len(typed.Data) != 0 {
		t.Fatalf("another resource's events %+v", typed)
	}

	for _, q := range []string{"after=nope", "type=hold.exploded", "limit=0", "limit=1001", "resource_id=a%2Fb", "colour=red"} {
		mustProblem(t, e.do("GET", "/v1/events?"+q, ""), http.StatusUnprocessableEntity, "invalid")
	}
	for _, q := range []string{"limit=x", "type=a&type=b"} {
		mustProblem(t, e.do("GET", "/v1/events?"+q, ""), http.StatusBadRequest, "malformed")
	}
}

func TestEventsLogDisabled(t *testing.T) {
	e := MustServer(t)
	mustProblem(t, e.do("GET", "/v1/events", ""), http.StatusNotFound, "route-not-found")
}

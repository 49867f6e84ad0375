package chaos

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/cluster/clustertest"
)

// holdRecord is the stream's record of a hold change.
func holdRecord(t *testing.T, rid string, version uint64, typ events.Type, hold string) events.Record {
	t.Helper()
	data, err := json.Marshal(events.HoldData{ID: hold, ResourceID: rid})
	if err != nil {
		t.Fatal(err)
	}
	return events.Record{ID: events.ID(rid, version, 0), Type: typ, ResourceID: rid, Version: version, Data: data}
}

func streamOf(recs ...events.Record) *clustertest.StreamLog {
	l := &clustertest.StreamLog{Copies: map[string]int{}}
	for _, r := range recs {
		if l.Copies[r.ID]++; l.Copies[r.ID] == 1 {
			l.Records = append(l.Records, r)
		}
	}
	return l
}

// TestStreamProblems: a history of a placed, confirmed hold h1, a placed hold h2 whose cancel
// ended unknown, a refused confirm of h2, and one placement that ended unknown. The right
// stream passes; each way of breaking it is named.
func TestStreamProblems(t *testing.T) {
	ops := []*Op{
		{Kind: KindHold, Resource: "r", HoldID: "h1", Result: ResultOK},
		{Kind: KindConfirm, Resource: "r", HoldID: "h1", Result: ResultOK},
		{Kind: KindHold, Resource: "r", HoldID: "h2", Result: ResultOK},
		{Kind: KindCancel, Resource: "r", HoldID: "h2", Result: ResultUnknown},
		{Kind: KindConfirm, Resource: "r", HoldID: "h2", Result: ResultConflict},
		{Kind: KindHold, Resource: "r", Key: "k9", Result: ResultUnknown},
		{Kind: KindRead, Resource: "r", Result: ResultOK},
	}
	x := ExpectEvents(ops)
	if len(x.Acked) != 3 || len(x.Maybe) != 1 || x.UnknownHolds != 1 {
		t.Fatalf("expectations %+v", x)
	}
	placed1 := holdRecord(t, "r", 2, events.HoldPlaced, "h1")
	confirmed1 := holdRecord(t, "r", 3, events.HoldConfirmed, "h1")
	placed2 := holdRecord(t, "r", 4, events.HoldPlaced, "h2")
	cancelled2 := holdRecord(t, "r", 5, events.HoldCancelled, "h2")
	stranger := holdRecord(t, "r", 6, events.HoldPlaced, "h9")
	created := events.Record{ID: events.ID("r", 1, 0), Type: events.ResourceCreated, ResourceID: "r", Version: 1, Data: json.RawMessage(`{}`)}
	all := []events.Record{created, placed1, confirmed1, placed2, cancelled2, stranger}

	if p := x.StreamProblems(streamOf(all...), all); len(p) != 0 {
		t.Fatalf("the right stream: %v", p)
	}
	// The unknown cancel and the unknown placement may also not have happened.
	if p := x.StreamProblems(streamOf(created, placed1, confirmed1, placed2), []events.Record{created, placed1, confirmed1, placed2}); len(p) != 0 {
		t.Fatalf("without the maybes: %v", p)
	}
	for _, tc := range []struct {
		name      string
		stream    []events.Record
		committed []events.Record
		want      string
	}{
		{"lost", []events.Record{created, placed1, placed2}, []events.Record{created, placed1, placed2}, "acknowledged hold.confirmed of hold h1 has no event"},
		{"refused change published", append(all[:len(all):len(all)], holdRecord(t, "r", 7, events.HoldConfirmed, "h2")),
			append(all[:len(all):len(all)], holdRecord(t, "r", 7, events.HoldConfirmed, "h2")), "hold.confirmed of hold h2 for a change that did not happen"},
		{"stored twice", append(all[:len(all):len(all)], placed2), all, "stored 2 times"},
		{"out of order", []events.Record{created, confirmed1, placed1, placed2}, []events.Record{created, placed1, confirmed1, placed2}, "event 2/0 after 3/0"},
		{"committed not published", []events.Record{created, placed1, confirmed1, placed2}, all, "committed event r/5/0"},
		{"published not committed", all, []events.Record{created, placed1, confirmed1, placed2, cancelled2}, "r/6/0 (hold.placed) on the stream was never committed"},
		{"more strangers than unknown placements", append(all[:len(all):len(all)], holdRecord(t, "r", 7, events.HoldPlaced, "h8")),
			append(all[:len(all):len(all)], holdRecord(t, "r", 7, events.HoldPlaced, "h8")), "2 holds on the stream the clients never had acknowledged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := x.StreamProblems(streamOf(tc.stream...), tc.committed)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Fatalf("want a problem with %q, got %v", tc.want, p)
			}
		})
	}
}

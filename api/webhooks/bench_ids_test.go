package webhooks_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/persistence/sidedbtest"
)

// BenchmarkIntakeAndRecordSQLite is the webhook store's share of a hot resource's events on
// a node on SQLite: each op stores one batch of 256 hold.placed events of one resource with
// their deliveries to one endpoint (AddEvents, through the booking writer as a node runs it)
// and records each delivery's first attempt (RecordAttempts), the table growing as the
// batches come, as under the events section's load (docs/EVENTS.md, Cost). ids=version are
// today's delivery ids (DeliveryID: in version order per endpoint and resource), ids=hash an
// earlier build's (a hash of the whole event), whose inserts and records touched a leaf page
// of the deliveries' and attempts' primary keys per row, each a WAL frame of the group commit.
//
//	go test -run '^$' -bench IntakeAndRecordSQLite -benchtime 200x ./api/webhooks/
func BenchmarkIntakeAndRecordSQLite(b *testing.B) {
	for _, shape := range []string{"version", "hash"} {
		b.Run("ids="+shape, func(b *testing.B) {
			db, main := sidedbtest.SQLiteWithMain(b, filepath.Join(b.TempDir(), "allot.db"))
			s, err := webhooks.NewSQLStore(db, webhooks.SQLite)
			if err != nil {
				b.Fatal(err)
			}
			s.WriteThrough(main.InGroup)
			ctx := context.Background()
			t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
			ep := webhooks.Endpoint{ID: "we_bench", URL: "https://example.com/h", EventTypes: []string{"hold.placed"},
				Secret: "sealed1:abc", CreatedAt: t0, UpdatedAt: t0}
			if err := s.CreateEndpoint(ctx, ep); err != nil {
				b.Fatal(err)
			}
			id := func(ev string) string {
				if shape == "version" {
					return webhooks.DeliveryID(ep.ID, ev)
				}
				h := sha256.New()
				h.Write([]byte(ep.ID + "\x00" + ev))
				return "dlv_" + hex.EncodeToString(h.Sum(nil)[:12])
			}
			const batch = 256
			payload := json.RawMessage(`{"id":"` + "flash-bench/0/0" + `","type":"hold.placed","timestamp":"2026-12-08T00:00:00.123Z",` +
				`"resource_id":"flash-bench","version":1,"index":0,"subject":"user-0001",` +
				`"data":{"hold_id":"h_0123456789abcdef","bucket":"2026-12-24","quantity":1,"expires_at":"2026-12-08T00:15:00Z"}}`)
			b.ResetTimer()
			for i := range b.N {
				evs := make([]webhooks.EventDeliveries, batch)
				rs := make([]webhooks.AttemptRecord, batch)
				at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
				for j := range evs {
					ev := "flash-bench/" + strconv.Itoa(i*batch+j+1) + "/0"
					d := webhooks.Delivery{ID: id(ev), EndpointID: ep.ID, EventID: ev, EventType: "hold.placed", Payload: payload,
						Status: webhooks.StatusPending, NextAttemptAt: at.Add(2 * time.Minute), CreatedAt: at, UpdatedAt: at}
					evs[j] = webhooks.EventDeliveries{EventID: ev, Deliveries: []webhooks.Delivery{d}}
					rs[j] = webhooks.AttemptRecord{Attempt: webhooks.Attempt{DeliveryID: d.ID, N: 1, At: at, Duration: time.Millisecond, StatusCode: 204},
						Outcome: webhooks.Outcome{Status: webhooks.StatusSucceeded, LastStatusCode: 204}}
				}
				if added, err := s.AddEvents(ctx, "webhooks", at, evs); err != nil || len(added) != batch {
					b.Fatalf("AddEvents: %d added, %v", len(added), err)
				}
				if _, err := s.RecordAttempts(ctx, rs); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}

package bus

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
)

// FuzzDecodeRecordIsUnmarshal: decodeRecord accepts what json.Unmarshal accepts, with the
// same record, and refuses what it refuses.
func FuzzDecodeRecordIsUnmarshal(f *testing.F) {
	for _, rec := range []events.Record{
		{ID: "r1/2/0", Type: events.HoldPlaced, ResourceID: "r1", Version: 2, OccurredAt: time.UnixMilli(1_900_000_000_123).UTC(),
			Subject: "u", Data: json.RawMessage(`{"id":"h","buckets":["a"],"quantity":1}`)},
		{ID: "r/1/0", Type: events.ResourceCreated, ResourceID: "r", Version: 1, Index: -3, Data: json.RawMessage(`[1,"x"]`)},
		{ID: "é", Version: 1 << 63, OccurredAt: time.Date(2026, 12, 6, 1, 2, 3, 4, time.FixedZone("x", 3600))},
	} {
		b, err := encodeRecord(&rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"a","type":"t","resource_id":"r","version":01,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data":{}}`,
		`{"id":"a","type":"t","resource_id":"r","version":1,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data":{}} `,
		`{"id":"a","type":"t","resource_id":"r","version":1,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data": {} }`,
		`{"id":"a","type":"t","resource_id":"r","version":1,"index":0,"occurred_at":"2026-13-06T00:00:00Z","data":{}}`,
		`{"id":"a","type":"t","resource_id":"r","version":1,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data":{},"x":1}`,
		`{"id":"a","type":"t","resource_id":"r","version":1,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data":null}`,
		`{"id":"a\u0041","type":"t","resource_id":"r","version":-1,"index":1.5,"occurred_at":"","data":{}}`,
		`{"id":"a","type":"t","resource_id":"r","version":18446744073709551616,"index":0,"occurred_at":"2026-12-06T00:00:00Z","data":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want events.Record
		werr := json.Unmarshal(body, &want)
		got, err := decodeRecord(body)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeRecord error %v, json.Unmarshal error %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeRecord\n%#v\njson.Unmarshal\n%#v", got, want)
		}
	})
}

// TestDecodeRecordTakesTheRelaysShape: what the relay publishes takes the direct path.
func TestDecodeRecordTakesTheRelaysShape(t *testing.T) {
	rec := events.Record{ID: "r1/2/0", Type: events.HoldPlaced, ResourceID: "r1", Version: 2,
		OccurredAt: time.UnixMilli(1_900_000_000_123).UTC(), Subject: "u", Data: json.RawMessage(`{"id":"h","quantity":1}`)}
	for _, subject := range []string{"u", ""} {
		rec.Subject = subject
		b, err := encodeRecord(&rec)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeRecordFast(b)
		if !ok || !reflect.DeepEqual(got, rec) {
			t.Fatalf("decodeRecordFast(%s) = %#v, %v", b, got, ok)
		}
	}
}

// BenchmarkDecodeRecord: a hold.placed event as the relay publishes it, decoded by
// decodeRecord and by json.Unmarshal.
func BenchmarkDecodeRecord(b *testing.B) {
	rec := events.Record{ID: "res-0001/123/0", Type: events.HoldPlaced, ResourceID: "res-0001", Version: 123,
		OccurredAt: time.UnixMilli(1_900_000_000_123).UTC(), Subject: "user-1234",
		Data: json.RawMessage(`{"id":"h-0123456789abcdef","resource_id":"res-0001","user_id":"user-1234","buckets":["general"],"quantity":1,"status":"held","created_at":"2026-12-06T18:00:00.123Z","expires_at":"2026-12-06T18:10:00.123Z","updated_at":"2026-12-06T18:00:00.123Z"}`)}
	body, err := encodeRecord(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeRecord", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeRecord(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var r events.Record
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

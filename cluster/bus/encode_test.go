package bus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/allot/allot/actors/events"
)

// FuzzEncodeRecordIsMarshal: for any record whose Data is compact JSON, encodeRecord gives
// json.Marshal's bytes; for any valid Data, it decodes to the same record.
func FuzzEncodeRecordIsMarshal(f *testing.F) {
	f.Add("r1/2/0", "hold.placed", "r1", uint64(2), 0, int64(1_900_000_000_123), "u", []byte(`{"id":"h","quantity":1}`))
	f.Add("", "", "", uint64(0), -1, int64(0), "", []byte(nil))
	f.Add("x\"<&>\u2028", "resource.created", "r é", uint64(1<<63), 7, int64(-5), "s\n", []byte(` [1, "a<b", {"k": null}] `))
	f.Fuzz(func(t *testing.T, id, typ, rid string, version uint64, index int, ms int64, subject string, data []byte) {
		if !json.Valid(data) && len(data) > 0 {
			return // Data is JSON by construction (the store encoded it)
		}
		if len(data) == 0 {
			data = nil // json.Marshal refuses an empty, non-nil RawMessage; both give null for nil
		}
		rec := events.Record{ID: id, Type: events.Type(typ), ResourceID: rid, Version: version, Index: index,
			OccurredAt: time.UnixMilli(ms).UTC(), Subject: subject, Data: data}
		got, err := encodeRecord(&rec)
		want, werr := json.Marshal(&rec)
		if (err == nil) != (werr == nil) {
			t.Fatalf("encodeRecord error %v, json.Marshal error %v", err, werr)
		}
		if err != nil {
			return
		}
		var compact bytes.Buffer
		if len(data) == 0 || (json.Compact(&compact, data) == nil && bytes.Equal(compact.Bytes(), data) && !bytes.ContainsAny(data, "<>&") && !bytes.Contains(data, []byte("\u2028")) && !bytes.Contains(data, []byte("\u2029"))) {
			if !bytes.Equal(got, want) {
				t.Fatalf("encodeRecord\n%s\njson.Marshal\n%s", got, want)
			}
		}
		var a, b events.Record
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("encodeRecord gave invalid JSON %s: %v", got, err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		var va, vb any
		if err := json.Unmarshal(a.Data, &va); err != nil {
			t.Fatalf("data %s: %v", a.Data, err)
		}
		if err := json.Unmarshal(b.Data, &vb); err != nil {
			t.Fatal(err)
		}
		a.Data, b.Data = nil, nil
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(va, vb) {
			t.Fatalf("decoded %+v %v, want %+v %v", a, va, b, vb)
		}
	})
}

// BenchmarkEncodeRecord: a hold.placed event's body by hand (encodeRecord) and through
// json.Marshal (encodeRecordMarshal, the path before round 13 and the fallback).
func BenchmarkEncodeRecord(b *testing.B) {
	rec := events.Record{ID: "r-000123/4/0", Type: events.HoldPlaced, ResourceID: "r-000123", Version: 4,
		OccurredAt: time.UnixMilli(1_900_000_000_123).UTC(), Subject: "user-42",
		Data: []byte(`{"id":"h-7f3a","resource_id":"r-000123","user_id":"user-42","status":"held","quantity":1,"buckets":["a"]}`)}
	for _, path := range []string{"hand", "marshal"} {
		b.Run("path="+path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if path == "hand" {
					_, err = encodeRecord(&rec)
				} else {
					_, err = encodeRecordMarshal(&rec, rec.Data)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package bus

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/allot/allot/actors/events"
)

// recordHead is events.Record without Data, its fields in the same order and with the same
// names, so that encodeRecord's output is json.Marshal's.
type recordHead struct {
	ID         string      `json:"id"`
	Type       events.Type `json:"type"`
	ResourceID string      `json:"resource_id"`
	Version    uint64      `json:"version"`
	Index      int         `json:"index"`
	OccurredAt time.Time   `json:"occurred_at"`
	Subject    string      `json:"subject,omitempty"`
}

// encodeRecord is the message body of rec: json.Marshal(rec), except that rec.Data is copied
// as it is. json.Marshal validates and compacts a json.RawMessage byte by byte, which was most
// of the relay's encoding cost (docs/EVENTS.md, Cost); Data is the after-image the store
// encoded at commit (persistence.EncodeEvents), valid JSON by construction. Nil Data encodes
// as null, as json.Marshal does.
//
// The head is written by hand when its strings need no escaping and the time is one
// json.Marshal writes (years 0-9999, an offset of whole minutes under a day): one allocation of the body's exact size instead of
// encoding/json's buffer, its copy and the body (~0.3 GB of what the node allocated over the
// memory section's fill, docs/PERFORMANCE.md, Round 13); any other record takes json.Marshal's
// path. FuzzEncodeRecordIsMarshal holds both to json.Marshal's bytes.
func encodeRecord(rec *events.Record) ([]byte, error) {
	data := []byte(rec.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	_, offset := rec.OccurredAt.Zone() // json.Marshal refuses an offset of seconds or of a day or more
	if y := rec.OccurredAt.Year(); y < 0 || y > 9999 || offset%60 != 0 || offset <= -86400 || offset >= 86400 || !plainJSON(rec.ID) || !plainJSON(string(rec.Type)) ||
		!plainJSON(rec.ResourceID) || !plainJSON(rec.Subject) {
		return encodeRecordMarshal(rec, data)
	}
	n := len(`{"id":"","type":"","resource_id":"","version":,"index":,"occurred_at":"","subject":"","data":}`) +
		len(rec.ID) + len(rec.Type) + len(rec.ResourceID) + 20 + 20 + len(time.RFC3339Nano) + 6 + len(rec.Subject) + len(data)
	out := make([]byte, 0, n)
	out = append(out, `{"id":"`...)
	out = append(out, rec.ID...)
	out = append(out, `","type":"`...)
	out = append(out, rec.Type...)
	out = append(out, `","resource_id":"`...)
	out = append(out, rec.ResourceID...)
	out = append(out, `","version":`...)
	out = strconv.AppendUint(out, rec.Version, 10)
	out = append(out, `,"index":`...)
	out = strconv.AppendInt(out, int64(rec.Index), 10)
	out = append(out, `,"occurred_at":"`...)
	out = rec.OccurredAt.AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	if rec.Subject != "" {
		out = append(out, `,"subject":"`...)
		out = append(out, rec.Subject...)
		out = append(out, '"')
	}
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

// plainJSON reports whether json.Marshal writes s as itself between quotes: printable ASCII
// without a quote, a backslash or an HTML character (which encoding/json escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// encodeRecordMarshal is encodeRecord through json.Marshal, for the records whose head needs
// escaping or a time json.Marshal refuses.
func encodeRecordMarshal(rec *events.Record, data []byte) ([]byte, error) {
	head, err := json.Marshal(recordHead{ID: rec.ID, Type: rec.Type, ResourceID: rec.ResourceID, Version: rec.Version,
		Index: rec.Index, OccurredAt: rec.OccurredAt, Subject: rec.Subject})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(`,"data":`)+len(data))
	out = append(out, head[:len(head)-1]...) // without the closing brace
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

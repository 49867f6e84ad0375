package bus

import (
	"encoding/json"
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
func encodeRecord(rec *events.Record) ([]byte, error) {
	head, err := json.Marshal(recordHead{ID: rec.ID, Type: rec.Type, ResourceID: rec.ResourceID, Version: rec.Version,
		Index: rec.Index, OccurredAt: rec.OccurredAt, Subject: rec.Subject})
	if err != nil {
		return nil, err
	}
	data := []byte(rec.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	out := make([]byte, 0, len(head)+len(`,"data":`)+len(data))
	out = append(out, head[:len(head)-1]...) // without the closing brace
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

package events

import (
	"strconv"
	"time"
)

// HoldData without encoding/json (issue 17, CPU per hold): every durable hold's commit encodes
// one hold.* after-image, and json.Marshal spent an allocation per timestamp
// (time.Time.MarshalJSON), reflection, and a copy out of its pooled buffer. appendHoldData
// writes the same bytes into one buffer. Invariant (TestAppendHoldDataMatchesEncodingJSON,
// randomized, and FuzzAppendHoldData): whenever it reports ok, its output is byte for byte
// json.Marshal's; what it does not encode (a payment or refund, a string JSON would escape, a
// year outside 0-9999, a time not in UTC) it reports !ok and Encode uses encoding/json.
// A field added to HoldData must be added here: TestAppendHoldDataKnowsEveryField fails until it is.

// holdDataCap is the buffer a hold's after-image starts with: one with the ids Allot makes
// and a few buckets fits.
const holdDataCap = 320

// appendHoldData appends d as json.Marshal encodes it; ok is false (and the buffer's content
// undefined) when d holds something this encoder leaves to encoding/json.
func appendHoldData(b []byte, d *HoldData) (_ []byte, ok bool) {
	if d.Payment != nil || d.Refund != nil {
		return b, false
	}
	b = append(b, `{"id":`...)
	if b, ok = AppendJSONPlainString(b, d.ID); !ok {
		return b, false
	}
	b = append(b, `,"resource_id":`...)
	if b, ok = AppendJSONPlainString(b, d.ResourceID); !ok {
		return b, false
	}
	b = append(b, `,"user_id":`...)
	if b, ok = AppendJSONPlainString(b, d.UserID); !ok {
		return b, false
	}
	b = append(b, `,"buckets":`...)
	if d.Buckets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range d.Buckets {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = AppendJSONPlainString(b, k); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, d.Quantity, 10)
	b = append(b, `,"status":`...)
	if b, ok = AppendJSONPlainString(b, d.Status); !ok {
		return b, false
	}
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{`,"created_at":`, d.CreatedAt}, {`,"expires_at":`, d.ExpiresAt}, {`,"updated_at":`, d.UpdatedAt}} {
		b = append(b, f.name...)
		if b, ok = AppendJSONTime(b, f.t); !ok {
			return b, false
		}
	}
	if d.Extensions != 0 {
		b = append(b, `,"extensions":`...)
		b = strconv.AppendInt(b, int64(d.Extensions), 10)
	}
	if d.WaitlistEntryID != "" {
		b = append(b, `,"waitlist_entry_id":`...)
		if b, ok = AppendJSONPlainString(b, d.WaitlistEntryID); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

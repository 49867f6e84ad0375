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
	if b, ok = appendPlainString(b, d.ID); !ok {
		return b, false
	}
	b = append(b, `,"resource_id":`...)
	if b, ok = appendPlainString(b, d.ResourceID); !ok {
		return b, false
	}
	b = append(b, `,"user_id":`...)
	if b, ok = appendPlainString(b, d.UserID); !ok {
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
			if b, ok = appendPlainString(b, k); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, d.Quantity, 10)
	b = append(b, `,"status":`...)
	if b, ok = appendPlainString(b, d.Status); !ok {
		return b, false
	}
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{`,"created_at":`, d.CreatedAt}, {`,"expires_at":`, d.ExpiresAt}, {`,"updated_at":`, d.UpdatedAt}} {
		b = append(b, f.name...)
		if b, ok = appendJSONTime(b, f.t); !ok {
			return b, false
		}
	}
	if d.Extensions != 0 {
		b = append(b, `,"extensions":`...)
		b = strconv.AppendInt(b, int64(d.Extensions), 10)
	}
	if d.WaitlistEntryID != "" {
		b = append(b, `,"waitlist_entry_id":`...)
		if b, ok = appendPlainString(b, d.WaitlistEntryID); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendPlainString appends s quoted when JSON needs no escape for it: printable ASCII other
// than '"', '\\' and the characters encoding/json escapes for HTML ('<', '>', '&').
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with the fraction's
// trailing zeros dropped) for a UTC time of a year MarshalJSON accepts (0-9999); the
// after-images' times are UTC (MS). Anything else goes to encoding/json.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off != 0 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

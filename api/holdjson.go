package api

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/wire"
)

// The hold reply without encoding/json (issue 17, CPU per hold). json.Marshal of a wire.Hold
// was 5% of a durable hold's CPU on the node under wrk: reflection over the struct, a
// time.Time.MarshalJSON allocation per timestamp, the copy out of its pooled buffer and a
// second copy to append the newline. appendHoldJSON writes the same bytes into one buffer
// sized for the common hold. Invariant (TestAppendHoldJSONMatchesEncodingJSON, randomized, and
// FuzzAppendHoldJSON): whenever it reports ok, its output is byte for byte json.Marshal's
// followed by '\n'; for what it does not encode (a contact, a string that JSON would escape, a
// non-UTC time, a year outside 0-9999) it reports !ok and writeHold falls back to writeJSON.
// A field added to wire.Hold must be added here: TestAppendHoldJSONKnowsEveryField fails until it is.

// holdReplyCap is the buffer a hold reply starts with: a hold with the ids Allot makes, a few
// buckets and all three timestamps fits.
const holdReplyCap = 512

// writeHold answers status with h as JSON, the same bytes as writeJSON(c, status, h).
func (s *Server) writeHold(c *gin.Context, status int, h wire.Hold) {
	body, ok := appendHoldJSON(make([]byte, 0, holdReplyCap), &h)
	if !ok {
		s.writeJSON(c, status, h)
		return
	}
	c.Data(status, "application/json", body)
}

// appendHoldJSON appends h as json.Marshal encodes it, then '\n'; ok is false (and the
// buffer's content undefined) when h holds something this encoder leaves to encoding/json.
func appendHoldJSON(b []byte, h *wire.Hold) (_ []byte, ok bool) {
	if h.Contact != nil {
		return b, false
	}
	b = append(b, `{"id":`...)
	if b, ok = appendPlainString(b, h.ID); !ok {
		return b, false
	}
	b = append(b, `,"resource_id":`...)
	if b, ok = appendPlainString(b, h.ResourceID); !ok {
		return b, false
	}
	b = append(b, `,"status":`...)
	if b, ok = appendPlainString(b, h.Status); !ok {
		return b, false
	}
	b = append(b, `,"buckets":`...)
	if h.Buckets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range h.Buckets {
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
	b = strconv.AppendInt(b, h.Quantity, 10)
	b = append(b, `,"user_id":`...)
	if b, ok = appendPlainString(b, h.UserID); !ok {
		return b, false
	}
	if h.ExpiresAt != nil {
		b = append(b, `,"expires_at":`...)
		if b, ok = appendJSONTime(b, *h.ExpiresAt); !ok {
			return b, false
		}
	}
	b = append(b, `,"created_at":`...)
	if b, ok = appendJSONTime(b, h.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = appendJSONTime(b, h.UpdatedAt); !ok {
		return b, false
	}
	b = append(b, `,"extensions":`...)
	b = strconv.AppendInt(b, int64(h.Extensions), 10)
	if h.WaitlistEntryID != "" {
		b = append(b, `,"waitlist_entry_id":`...)
		if b, ok = appendPlainString(b, h.WaitlistEntryID); !ok {
			return b, false
		}
	}
	if h.ContactMasked {
		b = append(b, `,"contact_masked":true`...)
	}
	if h.Payment != "" {
		b = append(b, `,"payment":`...)
		if b, ok = appendPlainString(b, h.Payment); !ok {
			return b, false
		}
	}
	return append(b, "}\n"...), true
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
// trailing zeros dropped) for a UTC time of a year MarshalJSON accepts (0-9999); the edge's
// times are UTC (fromMs). Anything else goes to encoding/json.
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

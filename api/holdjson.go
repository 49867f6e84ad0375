package api

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/events"
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

// holdReplyMaxPooled bounds the buffers kept for reuse: a reply that needed more (a hold of
// very many buckets) does not pin its buffer.
const holdReplyMaxPooled = 4 << 10

// holdBufPool lends the buffers hold replies are encoded into (issue 17, CPU per hold: the
// reply's buffer was 4-5% of a durable hold's bytes allocated, and allocation and GC a
// quarter of its CPU). Safe for concurrent use; its zero value is ready.
type holdBufPool struct{ p sync.Pool }

func (bp *holdBufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, holdReplyCap)
	return &b
}

func (bp *holdBufPool) put(b *[]byte) {
	if cap(*b) > holdReplyMaxPooled {
		return
	}
	*b = (*b)[:0]
	bp.p.Put(b)
}

// writeHold answers status with h as JSON, the same bytes as writeJSON(c, status, h).
//
// The body is encoded into a pooled buffer, given back once c.Data returns: net/http's
// ResponseWriter.Write copies what it is given (into its buffered writer or onto the
// connection) before it returns and keeps no reference to it.
func (s *Server) writeHold(c *gin.Context, status int, h wire.Hold) {
	buf := s.holdBufs.get()
	defer s.holdBufs.put(buf)
	body, ok := appendHoldJSON(*buf, &h)
	*buf = body[:0] // keep a grown buffer
	if !ok {
		s.writeJSON(c, status, h)
		return
	}
	writeJSONBody(c, status, body)
}

// jsonContentType is the Content-Type field of a JSON answer, one slice shared by every
// answer: net/http copies a header's values when it writes them (Header.Clone at WriteHeader)
// and nothing in the edge appends to or writes into a field it did not set.
var jsonContentType = []string{"application/json"}

// contentLengths are the Content-Length fields of the bodies up to maxSharedLength bytes, one
// value slice each (cap 1), shared by every answer as jsonContentType is: the field of a
// JSON answer was two allocations (the digits and the slice; issue 17, round 11).
//
// Invariant: nothing writes into a header value slice it did not make (net/http copies the
// values at WriteHeader; Header.Add on a cap-1 slice copies it).
var contentLengths = func() []string {
	v := make([]string, maxSharedLength+1)
	for n := range v {
		v[n] = strconv.Itoa(n)
	}
	return v
}()

// maxSharedLength bounds contentLengths: a hold, a problem, an availability answer fit.
const maxSharedLength = 2047

// contentLength is the Content-Length field's value slice for a body of n bytes.
func contentLength(n int) []string {
	if n >= 0 && n <= maxSharedLength {
		return contentLengths[n : n+1 : n+1]
	}
	return []string{strconv.Itoa(n)}
}

// writeJSONBody answers status with body as application/json, exactly as c.Data(status,
// "application/json", body) does (a Content-Type already set is kept; Content-Length set
// when there is a body; no body for a status that has none), without gin's two allocations
// a call: the render.Data boxed in its interface and the Content-Type's slice (issue 17).
func writeJSONBody(c *gin.Context, status int, body []byte) {
	c.Status(status)
	h := c.Writer.Header()
	if len(h["Content-Type"]) == 0 {
		h["Content-Type"] = jsonContentType
	}
	if !bodyAllowedForStatus(status) {
		c.Writer.WriteHeaderNow()
		return
	}
	if len(body) > 0 {
		h["Content-Length"] = contentLength(len(body))
	}
	if _, err := c.Writer.Write(body); err != nil {
		_ = c.Error(err) // as gin's Render: the client went away; the log says so
		c.Abort()
	}
}

// bodyAllowedForStatus is gin's (and net/http's) rule: no body for 1xx, 204 and 304.
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= http.StatusContinue && status < http.StatusOK:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// appendHoldJSON appends h as json.Marshal encodes it, then '\n'; ok is false (and the
// buffer's content undefined) when h holds something this encoder leaves to encoding/json.
func appendHoldJSON(b []byte, h *wire.Hold) (_ []byte, ok bool) {
	if h.Contact != nil {
		return b, false
	}
	b = append(b, `{"id":`...)
	if b, ok = events.AppendJSONPlainString(b, h.ID); !ok {
		return b, false
	}
	b = append(b, `,"resource_id":`...)
	if b, ok = events.AppendJSONPlainString(b, h.ResourceID); !ok {
		return b, false
	}
	b = append(b, `,"status":`...)
	if b, ok = events.AppendJSONPlainString(b, h.Status); !ok {
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
			if b, ok = events.AppendJSONPlainString(b, k); !ok {
				return b, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, h.Quantity, 10)
	b = append(b, `,"user_id":`...)
	if b, ok = events.AppendJSONPlainString(b, h.UserID); !ok {
		return b, false
	}
	if h.ExpiresAt != nil {
		b = append(b, `,"expires_at":`...)
		if b, ok = events.AppendJSONTime(b, *h.ExpiresAt); !ok {
			return b, false
		}
	}
	b = append(b, `,"created_at":`...)
	if b, ok = events.AppendJSONTime(b, h.CreatedAt); !ok {
		return b, false
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = events.AppendJSONTime(b, h.UpdatedAt); !ok {
		return b, false
	}
	b = append(b, `,"extensions":`...)
	b = strconv.AppendInt(b, int64(h.Extensions), 10)
	if h.WaitlistEntryID != "" {
		b = append(b, `,"waitlist_entry_id":`...)
		if b, ok = events.AppendJSONPlainString(b, h.WaitlistEntryID); !ok {
			return b, false
		}
	}
	if h.ContactMasked {
		b = append(b, `,"contact_masked":true`...)
	}
	if h.Payment != "" {
		b = append(b, `,"payment":`...)
		if b, ok = events.AppendJSONPlainString(b, h.Payment); !ok {
			return b, false
		}
	}
	return append(b, "}\n"...), true
}

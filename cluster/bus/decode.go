package bus

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/allot/allot/actors/events"
)

// decodeRecord decodes a message body as json.Unmarshal into an events.Record does, with the
// same result and the same acceptance. Bodies in the shape the relay publishes (encodeRecord:
// the fields in order, strings without escapes) take a direct path that validates the data
// once and the rest by hand, instead of json.Unmarshal's validation pass over the whole body,
// its decoding pass and a second scan of the data: every durable consumer decodes every event
// (docs/EVENTS.md, Cost). Anything else falls back to json.Unmarshal.
func decodeRecord(body []byte) (events.Record, error) {
	if rec, ok := decodeRecordFast(body); ok {
		return rec, nil
	}
	var rec events.Record
	err := json.Unmarshal(body, &rec)
	return rec, err
}

// decodeRecordFast is decodeRecord's direct path; ok is false when body is not in the shape
// it takes (not necessarily invalid).
func decodeRecordFast(body []byte) (rec events.Record, ok bool) {
	p := fastParser{b: body}
	if !p.lit(`{"id":`) {
		return rec, false
	}
	var s string
	if rec.ID, ok = p.str(); !ok || !p.lit(`,"type":`) {
		return rec, false
	}
	if s, ok = p.str(); !ok || !p.lit(`,"resource_id":`) {
		return rec, false
	}
	rec.Type = events.Type(s)
	if rec.ResourceID, ok = p.str(); !ok || !p.lit(`,"version":`) {
		return rec, false
	}
	num, ok := p.number()
	if !ok || num[0] == '-' || !p.lit(`,"index":`) {
		return rec, false
	}
	if rec.Version, ok = parseUint(num); !ok {
		return rec, false
	}
	if num, ok = p.number(); !ok || !p.lit(`,"occurred_at":`) {
		return rec, false
	}
	idx, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
	if err != nil {
		return rec, false
	}
	rec.Index = int(idx)
	start := p.i
	if _, ok = p.str(); !ok {
		return rec, false
	}
	if rec.OccurredAt.UnmarshalJSON(body[start:p.i]) != nil { // what json.Unmarshal calls
		return rec, false
	}
	if p.lit(`,"subject":`) {
		if rec.Subject, ok = p.str(); !ok {
			return rec, false
		}
	}
	if !p.lit(`,"data":`) || len(body)-p.i < 2 || body[len(body)-1] != '}' {
		return rec, false
	}
	data := body[p.i : len(body)-1]
	if isSpace(data[0]) || isSpace(data[len(data)-1]) || bytes.Equal(data, []byte("null")) || !json.Valid(data) {
		return rec, false // spaces around it: json.Unmarshal's RawMessage would not hold them
	}
	rec.Data = bytes.Clone(data)
	return rec, true
}

// fastParser reads the fixed shape of decodeRecordFast.
type fastParser struct {
	b []byte
	i int
}

// lit consumes s if the input continues with it.
func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// str consumes a JSON string without escapes or control characters, of valid UTF-8.
func (p *fastParser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[p.i+1 : j]
			if !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number consumes an integer as JSON writes it: an optional minus, no leading zero.
func (p *fastParser) number() ([]byte, bool) {
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	d := j
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == d || (p.b[d] == '0' && j-d > 1) {
		return nil, false
	}
	n := p.b[p.i:j]
	p.i = j
	return n, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func parseUint(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

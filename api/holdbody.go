package api

import "strconv"

// fastPlaceHoldBody decodes the hold request bodies clients send nearly always — one JSON
// object of buckets, from, to, quantity and user_id, with plain ASCII strings and an integer
// quantity — in one pass without reflection, for the hot path of POST .../holds. It returns
// false for anything else (a contact, escapes, null, non-ASCII, a fraction, duplicates, bad
// syntax, ...), and the caller decodes the body with decodeStrict, which also words the
// problem for bad input.
//
// Invariant: when it returns true, b is exactly what decodeStrict would decode from body with
// the hold request's member rules (TestFastPlaceHoldBodyAgreesWithStrict and its fuzz
// target check this), so the fast path answers nothing differently.
func fastPlaceHoldBody(body []byte) (b placeHoldBody, ok bool) {
	p := fastScanner{buf: body}
	p.space()
	if !p.byte('{') {
		return b, false
	}
	p.space()
	if p.byte('}') {
		return b, p.end()
	}
	var seen uint8
	for {
		p.space()
		key, ok := p.plainBytes() // compared, not kept: no string made
		if !ok {
			return b, false
		}
		p.space()
		if !p.byte(':') {
			return b, false
		}
		p.space()
		var bit uint8
		switch string(key) {
		case "buckets":
			bit = 1
			if b.Buckets, ok = p.plainStrings(); !ok {
				return b, false
			}
		case "from":
			bit = 2
			if b.From, ok = p.plainStringPtr(); !ok {
				return b, false
			}
		case "to":
			bit = 4
			if b.To, ok = p.plainStringPtr(); !ok {
				return b, false
			}
		case "quantity":
			bit = 8
			if b.Quantity, ok = p.int64Ptr(); !ok {
				return b, false
			}
		case "user_id":
			bit = 16
			if b.UserID, ok = p.plainStringPtr(); !ok {
				return b, false
			}
		default: // contact, contact_from_token, or a member the strict path refuses
			return b, false
		}
		if seen&bit != 0 {
			return b, false // a duplicate: decodeStrict refuses it
		}
		seen |= bit
		p.space()
		if p.byte(',') {
			continue
		}
		if !p.byte('}') {
			return b, false
		}
		return b, p.end()
	}
}

// fastScanner reads the JSON subset fastPlaceHoldBody accepts.
type fastScanner struct {
	buf []byte
	i   int
}

func (p *fastScanner) space() {
	for p.i < len(p.buf) {
		switch p.buf[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastScanner) byte(c byte) bool {
	if p.i < len(p.buf) && p.buf[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only JSON whitespace follows.
func (p *fastScanner) end() bool {
	p.space()
	return p.i == len(p.buf)
}

// plainString reads a string of printable ASCII without escapes.
func (p *fastScanner) plainString() (string, bool) {
	b, ok := p.plainBytes()
	if !ok {
		return "", false
	}
	return string(b), true
}

// plainBytes is plainString's bytes, in buf: for a member name, which is only compared (a
// string of it was an allocation per member, three per hold; issue 17, round 12).
func (p *fastScanner) plainBytes() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.buf) {
		c := p.buf[p.i]
		switch {
		case c == '"':
			b := p.buf[start:p.i]
			p.i++
			return b, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *fastScanner) plainStringPtr() (*string, bool) {
	s, ok := p.plainString()
	if !ok {
		return nil, false
	}
	return &s, true
}

// plainStrings reads an array of plain strings ([] gives an empty, non-nil slice, as
// encoding/json does).
func (p *fastScanner) plainStrings() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := make([]string, 0, 4)
	p.space()
	if p.byte(']') {
		return out, true
	}
	for {
		p.space()
		s, ok := p.plainString()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.space()
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// int64Ptr reads a JSON integer (no fraction, no exponent) that fits an int64.
func (p *fastScanner) int64Ptr() (*int64, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.buf) && p.buf[p.i] >= '0' && p.buf[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.buf[digits] == '0') {
		return nil, false // no digits, or a leading zero JSON does not allow
	}
	if p.i < len(p.buf) {
		switch p.buf[p.i] {
		case '.', 'e', 'E':
			return nil, false
		}
	}
	v, err := strconv.ParseInt(string(p.buf[start:p.i]), 10, 64)
	if err != nil {
		return nil, false
	}
	return &v, true
}

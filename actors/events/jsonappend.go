package events

import "time"

// The primitives of the JSON Allot writes by hand on the hot path (an after-image here, the
// hold reply in api): each appends what encoding/json would write, or reports false for a
// value it leaves to encoding/json, so that a caller falls back to json.Marshal.

// AppendJSONPlainString appends s quoted when JSON needs no escape for it: printable ASCII other
// than '"', '\\' and the characters encoding/json escapes for HTML ('<', '>', '&').
func AppendJSONPlainString(b []byte, s string) ([]byte, bool) {
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

// AppendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with the fraction's
// trailing zeros dropped) for a UTC time of a year MarshalJSON accepts (0-9999); Allot's
// after-images and replies carry UTC times (MS). Anything else is left to encoding/json.
func AppendJSONTime(b []byte, t time.Time) ([]byte, bool) {
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

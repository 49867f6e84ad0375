package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
)

// errNotAHold is the error of a 2xx hold answer that is not a JSON object with a string id.
var errNotAHold = errors.New("answer is not a hold document")

// holdIDOf returns the "id" of a 2xx hold answer, which is all a session needs of it, without
// decoding the whole wire.Hold by reflection (that was a tenth of the load generator's CPU).
// The body must be valid JSON (json.Valid, the scanner without reflection) and an object or
// null, and its id a string or null, as json.Unmarshal into wire.Hold requires; the types of
// the other fields are not checked. The last "id" wins and keys match case-insensitively, as
// with json.Unmarshal; an id with escapes or non-ASCII bytes, or a key that matches only ignoring case, is
// decoded by json.Unmarshal.
func holdIDOf(body []byte) (string, error) {
	if !json.Valid(body) {
		return "", errNotAHold
	}
	b := skipWS(body)
	if bytes.HasPrefix(b, []byte("null")) {
		return "", nil
	}
	if len(b) == 0 || b[0] != '{' {
		return "", errNotAHold
	}
	b = skipWS(b[1:])
	var id []byte
	found, slow := false, false
	for len(b) > 0 && b[0] == '"' {
		key, rest := scanString(b)
		b = skipWS(rest)[1:] // the colon: the body is valid JSON
		b = skipWS(b)
		end := valueEnd(b)
		switch {
		case string(key) == `"id"`:
			id, found = b[:end], true
		case len(key) == 4 && lowerASCII(key[1]) == 'i' && lowerASCII(key[2]) == 'd',
			bytes.IndexByte(key, '\\') >= 0 && len(key) <= 16:
			slow = true // "ID", "Id", or an escaped key that may spell id
		}
		b = skipWS(b[end:])
		if len(b) > 0 && b[0] == ',' {
			b = skipWS(b[1:])
		}
	}
	if slow || (found && !plainASCII(id)) {
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			return "", errNotAHold
		}
		return h.ID, nil
	}
	switch {
	case !found || string(id) == "null":
		return "", nil
	case id[0] != '"':
		return "", errNotAHold
	}
	return string(id[1 : len(id)-1]), nil
}

// plainASCII reports whether b has neither escapes nor bytes json.Unmarshal may replace.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// scanString splits valid JSON b at the end of the string it starts with (quotes included).
func scanString(b []byte) (str, rest []byte) {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[:i+1], b[i+1:]
		}
	}
	return b, nil
}

// valueEnd returns the length of the JSON value valid JSON b starts with.
func valueEnd(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '"':
		s, _ := scanString(b)
		return len(s)
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				s, _ := scanString(b[i:])
				i += len(s) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i, c := range b { // a number, true, false or null
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return i
		}
	}
	return len(b)
}

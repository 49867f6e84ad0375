package postgres

import "encoding/json"

// bucketsJSON is a hold's bucket keys as the holds.buckets column stores them, the JSON array
// json.Marshal makes of them (a nil slice as []). Every hold of a commit has one: json.Marshal
// cost three allocations per hold (the slice boxed into an interface, Marshal's copy out of
// its buffer, the string), so keys JSON needs no escape for (bucket keys are plain ids) are
// written here in a stack buffer with the one allocation of the string. Invariant
// (TestBucketsJSONMatchesEncodingJSON): the same bytes as json.Marshal.
func bucketsJSON(keys []string) (string, error) {
	var stack [128]byte
	b := append(stack[:0], '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if !plainJSON(k) {
			return marshalBuckets(keys)
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"')
	}
	return string(append(b, ']')), nil
}

func marshalBuckets(keys []string) (string, error) {
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	return string(b), err
}

// plainJSON reports whether s needs no escape in a JSON string: printable ASCII other than
// '"', '\\' and the characters encoding/json escapes for HTML ('<', '>', '&').
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

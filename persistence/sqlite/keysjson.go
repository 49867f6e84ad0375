package sqlite

import (
	"encoding/json"
	"strings"
)

// keysJSON is json.Marshal(keys) as a string ("[]" for none), the form the holds' and the
// waitlist's buckets columns store. Bucket keys are plain (letters, digits, '-', ':', ...),
// and for those it writes the array in one allocation instead of encoding/json's buffer and
// copy (a hold row of every commit has one); a key that JSON would escape takes
// encoding/json's path, so the bytes are always Marshal's.
func keysJSON(keys []string) (string, error) {
	n := 2
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return marshalKeys(keys)
			}
		}
		n += len(k) + 3
	}
	var b strings.Builder // String does not copy
	b.Grow(n)
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(k)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String(), nil
}

func marshalKeys(keys []string) (string, error) {
	if keys == nil {
		keys = []string{}
	}
	js, err := json.Marshal(keys)
	return string(js), err
}

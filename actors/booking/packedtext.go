package booking

import "encoding/binary"

// Strings and times of the packed form (packed.go), which are most of its bytes: a hold's id,
// idempotency key and user, and its times.
//
// A string is a header, uvarint n<<2 | kind, then
//   - kind 0 (textRaw): n bytes; unpacked as a substring of the packed form (no allocation);
//   - kind 1 (textShared): the first n bytes of the string before it of the same field (a
//     hold's id after the previous hold's id, an idempotency key after the previous key or
//     the resource id, ...), then the rest as a length and bytes: ids of one second and keys
//     that extend the resource id share their beginnings;
//   - kind 2 (textBase32): n bytes as they are, then a count m and m characters of
//     holdIDAlphabet (lower-case base32, which hold ids are made of after their "h_" prefix)
//     at 5 bits each: a 32-character hold id in 23 bytes;
//   - kind 3 (textBase64): the same with base64url characters at 6 bits each: the edge's
//     scoped idempotency keys ("s1." and a 43-character digest, api/holds.go) in 38 bytes.
//
// Kinds 1 to 3 allocate the string when unpacked, so they are chosen only when they save at
// least textMinSaving bytes over kind 0. Times (instants and durations) are nanoseconds; those
// of whole milliseconds, which are all the model's, are written as milliseconds.

const (
	textRaw = iota
	textShared
	textBase32
	textBase64
)

// textMinSaving is the least saving for which a string is packed in a form that allocates
// when unpacked.
const textMinSaving = 4

// base32Alphabet is the alphabet of kind 2: holdIDAlphabet's (resource/holdid.go), digits in
// ascending byte order; base64Alphabet is kind 3's, base64url's.
const (
	base32Alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// textRun is a kind of string packed as a raw head and a run of an alphabet's characters at
// bits each.
type textRun struct {
	kind     int
	bits     int
	alphabet string
	value    [256]byte // a byte's value in alphabet, 0xff for a byte not in it
}

func newTextRun(kind, bits int, alphabet string) textRun {
	r := textRun{kind: kind, bits: bits, alphabet: alphabet}
	for i := range r.value {
		r.value[i] = 0xff
	}
	for i := range len(alphabet) {
		r.value[alphabet[i]] = byte(i)
	}
	return r
}

// textRuns are kinds 2 and 3, in that order. Never written.
var textRuns = [...]textRun{newTextRun(textBase32, 5, base32Alphabet), newTextRun(textBase64, 6, base64Alphabet)}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// appendText appends s, which follows prev in its field ("" for none).
func appendText(b []byte, s, prev string) []byte {
	raw := uvarintLen(uint64(len(s))<<2) + len(s)
	best, kind, n := raw-textMinSaving+1, textRaw, 0
	p := 0
	for p < len(s) && p < len(prev) && s[p] == prev[p] {
		p++
	}
	if p > 0 {
		if size := uvarintLen(uint64(p)<<2) + uvarintLen(uint64(len(s)-p)) + len(s) - p; size < best {
			best, kind, n = size, textShared, p
		}
	}
	for _, r := range textRuns {
		j := len(s) // s[j:] is the run's alphabet's
		for j > 0 && r.value[s[j-1]] != 0xff {
			j--
		}
		if m := len(s) - j; m >= 8 {
			if size := uvarintLen(uint64(j)<<2) + j + uvarintLen(uint64(m)) + (r.bits*m+7)/8; size < best {
				best, kind, n = size, r.kind, j
			}
		}
	}
	switch kind {
	case textShared:
		b = binary.AppendUvarint(b, uint64(n)<<2|textShared)
		b = binary.AppendUvarint(b, uint64(len(s)-n))
		return append(b, s[n:]...)
	case textBase32, textBase64:
		r := &textRuns[kind-textBase32]
		b = binary.AppendUvarint(b, uint64(n)<<2|uint64(kind))
		b = append(b, s[:n]...)
		b = binary.AppendUvarint(b, uint64(len(s)-n))
		var acc uint64
		bits := 0
		for i := n; i < len(s); i++ {
			acc = acc<<r.bits | uint64(r.value[s[i]])
			if bits += r.bits; bits >= 8 {
				bits -= 8
				b = append(b, byte(acc>>bits))
			}
		}
		if bits > 0 {
			b = append(b, byte(acc<<(8-bits))) // the last bits, zero-padded
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(s))<<2|textRaw)
	return append(b, s...)
}

// text reads a string appendText wrote after prev.
func (d *unpacker) text(prev string) string {
	h := d.uvarint()
	n := h >> 2
	if d.bad || n > uint64(len(d.p)-d.off) && h&3 != textShared {
		d.bad = true
		return ""
	}
	switch h & 3 {
	case textRaw:
		s := d.p[d.off : d.off+int(n)]
		d.off += int(n)
		return s
	case textShared:
		if n > uint64(len(prev)) {
			d.bad = true
			return ""
		}
		rest := d.count()
		if d.bad {
			return ""
		}
		s := prev[:n] + d.p[d.off:d.off+rest]
		d.off += rest
		return s
	}
	r := &textRuns[h&3-textBase32]
	head := d.p[d.off : d.off+int(n)]
	d.off += int(n)
	m := d.uvarint()
	if d.bad || m > 8*uint64(len(d.p)-d.off)/uint64(r.bits) {
		d.bad = true
		return ""
	}
	size := (uint64(r.bits)*m + 7) / 8
	if size > uint64(len(d.p)-d.off) {
		d.bad = true
		return ""
	}
	out := make([]byte, 0, len(head)+int(m))
	out = append(out, head...)
	var acc uint64
	bits := 0
	for _, c := range []byte(d.p[d.off : d.off+int(size)]) {
		acc = acc<<8 | uint64(c)
		bits += 8
		for bits >= r.bits && len(out) < cap(out) {
			bits -= r.bits
			out = append(out, r.alphabet[acc>>bits&(1<<r.bits-1)])
		}
	}
	d.off += int(size)
	return string(out)
}

// appendNanos appends a time or duration in nanoseconds: v/1e6<<1 when it is whole
// milliseconds, else 1 and v.
func appendNanos(b []byte, v int64) []byte {
	if v%1e6 == 0 {
		return binary.AppendVarint(b, v/1e6<<1) // |v/1e6| < 2^54: no overflow
	}
	return binary.AppendVarint(binary.AppendVarint(b, 1), v)
}

// nanos reads appendNanos.
func (d *unpacker) nanos() int64 {
	v := d.varint()
	switch {
	case v&1 == 0:
		return v >> 1 * 1e6
	case v == 1:
		return d.varint()
	}
	d.bad = true
	return 0
}

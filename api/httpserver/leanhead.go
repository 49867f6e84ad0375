package httpserver

import (
	"net/http"
	"net/textproto"
	"strings"
)

// leanHead is a request head in the one form the fast path serves (see Lean). Its strings
// are slices of one string made from the head's bytes.
type leanHead struct {
	target string
	host   string
	length int64
	header http.Header
}

// headVerdict is what scanHead decided about the bytes buffered so far.
type headVerdict int

const (
	headMore    headVerdict = iota // a head of the fast path's form so far, not yet whole
	headWhole                      // a whole head of the fast path's form: n bytes
	headHandOff                    // anything else: net/http's, from its first byte
)

// leanPrefix is how every request the fast path serves starts.
const leanPrefix = "POST /"

// scanHead looks at the buffered bytes of the next request. It hands off as soon as they
// cannot be a head of the fast path's form: another method, a control or non-ASCII byte, a
// bare LF or CR. Otherwise it reports headWhole and the head's length (through its empty
// line) once "\r\n\r\n" is in buf.
func scanHead(buf []byte) (headVerdict, int) {
	p := min(len(buf), len(leanPrefix))
	if string(buf[:p]) != leanPrefix[:p] {
		return headHandOff, 0
	}
	for i, b := range buf {
		switch {
		case b == '\n':
			if i == 0 || buf[i-1] != '\r' {
				return headHandOff, 0 // a bare LF: net/http's lenience, not ours
			}
			if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
				return headWhole, i + 1
			}
		case b == '\r':
			if i+1 < len(buf) && buf[i+1] != '\n' {
				return headHandOff, 0
			}
		case b == '\t':
		case b < 0x20 || b >= 0x7f:
			return headHandOff, 0
		}
	}
	return headMore, 0
}

// parseHead parses a whole head (scanHead's headWhole bytes) of the fast path's form; ok is
// false for anything else, which is then net/http's. hot decides the target.
func parseHead(buf []byte, hot func(string) bool) (h leanHead, ok bool) {
	s := string(buf) // one allocation: every string of the head is a slice of it
	line, rest, _ := cutCRLF(s)
	// Request line: "POST " target " HTTP/1.1", single spaces, an origin-form target of
	// [A-Za-z0-9/_-] (no query, no percent-encoding, no dot segments).
	const method, proto = "POST ", " HTTP/1.1"
	if len(line) <= len(method)+len(proto) || line[:len(method)] != method || line[len(line)-len(proto):] != proto {
		return h, false
	}
	target := line[len(method) : len(line)-len(proto)]
	if target[0] != '/' || !plainTarget(target) || !hot(target) {
		return h, false
	}
	h.target, h.length = target, -1

	// Count the fields first: their values share one slice, as net/http's do.
	n := 0
	for r := rest; ; n++ {
		var l string
		l, r, _ = cutCRLF(r)
		if l == "" {
			break
		}
	}
	values := make([]string, n)
	h.header = make(http.Header, n)
	hosts, conns := 0, 0
	for i := 0; ; i++ {
		var l string
		l, rest, _ = cutCRLF(rest)
		if l == "" {
			break
		}
		colon := -1
		for j := 0; j < len(l); j++ {
			if l[j] == ':' {
				colon = j
				break
			}
		}
		if colon <= 0 {
			return h, false
		}
		name, value := l[:colon], trimOWS(l[colon+1:])
		for j := 0; j < len(name); j++ {
			if !isTokenChar(name[j]) {
				return h, false // obs-fold (a leading space), a space before the colon, ...
			}
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Connection":
			// Browsers send "keep-alive", which HTTP/1.1 means anyway and net/http ignores;
			// any other value, or a second field, is net/http's.
			if conns++; conns > 1 || !strings.EqualFold(value, "keep-alive") {
				return h, false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer", "Keep-Alive",
			"Proxy-Connection", "Http2-Settings":
			return h, false // framing and connection management: net/http's
		case "Host":
			if hosts++; hosts > 1 || !plainHost(value) {
				return h, false
			}
			h.host = value
		case "Content-Length":
			if h.length >= 0 {
				return h, false // even a repeated equal one: net/http decides
			}
			if h.length = digits(value); h.length < 0 {
				return h, false
			}
		}
		values[i] = value
		if old := h.header[key]; old != nil {
			h.header[key] = append(old, value)
		} else {
			h.header[key] = values[i : i+1 : i+1]
		}
	}
	if hosts != 1 || h.length < 0 {
		return h, false
	}
	return h, true
}

// cutCRLF splits s at its first "\r\n".
func cutCRLF(s string) (line, rest string, found bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// digits is s as a non-negative decimal of at most 18 digits, else -1.
func digits(s string) int64 {
	if s == "" || len(s) > 18 {
		return -1
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

func plainTarget(t string) bool {
	for i := 0; i < len(t); i++ {
		switch b := t[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '/', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// plainHost accepts a host name or address with an optional port: [A-Za-z0-9.:_\[\]-].
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch b := h[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == ':', b == '_', b == '-', b == '[', b == ']':
		default:
			return false
		}
	}
	return true
}

// isTokenChar reports whether b is a tchar (RFC 9110 5.6.2).
func isTokenChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

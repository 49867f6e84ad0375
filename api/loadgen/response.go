package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The load phase reads answers with this minimal HTTP/1.1 response parser rather than
// net/http's Transport: it keeps what the load generator looks at (status, framing,
// Content-Type, Retry-After, Connection: close, the body) in buffers reused by the
// connection, so that reading an answer allocates nothing. What net/http refuses as a
// malformed response it refuses too (the attempt then got no answer, as before).

// Bounds of what the parser reads. maxBody and maxDrain are api/client's: the part of a body
// kept, and how much more is read (and dropped) so that the connection can be reused; past
// them the connection is closed.
const (
	maxHeaderBytes = 1 << 20
	maxBody        = 4 << 20
	maxDrain       = 64 << 10
	maxInformative = 5 // 1xx answers skipped before the final one, as net/http
)

// errMalformed is wrapped by every error of a response that is not HTTP/1.x.
var errMalformed = errors.New("malformed HTTP response")

// response is one parsed answer. Its byte slices alias the connection's buffers: they are
// valid until the connection reads the next answer.
type response struct {
	Status      int
	ContentType []byte
	RetryAfter  []byte
	// Close says the connection cannot carry another request: the server said
	// Connection: close, the answer is HTTP/1.0 without keep-alive, its body ran to EOF, or
	// the body was too long to drain.
	Close bool
	Body  []byte
}

// respReader reads answers from one connection. Its buffers live as long as the connection's
// reader; the zero value plus a bufio.Reader is ready.
type respReader struct {
	br     *bufio.Reader
	line   []byte // a header line longer than br's buffer, assembled
	cr     bool   // the last line read ended with CRLF, not a bare LF
	ct, ra []byte // copies of Content-Type and Retry-After: br's buffer moves as it fills
	body   []byte
	// dropped counts the body bytes read past maxBody.
	dropped int
	// got counts the bytes read of the current answer, so that the caller can tell a
	// connection closed before any answer (replayable) from one closed mid-answer.
	got int
}

// read parses the next answer to a request of method. Any error means the connection is
// unusable.
func (p *respReader) read(method string) (response, error) {
	p.got = 0
	for informative := 0; ; informative++ {
		r, err := p.readHead(method)
		if err != nil {
			return r, err
		}
		if r.Status >= 100 && r.Status < 200 {
			if r.Status == 101 || informative >= maxInformative {
				return r, fmt.Errorf("%w: unexpected %d answer", errMalformed, r.Status)
			}
			continue
		}
		return r, nil
	}
}

// readHead parses a status line and headers, then reads the body of a final answer.
func (p *respReader) readHead(method string) (response, error) {
	var r response
	line, err := p.readLine()
	if err != nil {
		return r, err
	}
	proto11, status, ok := parseStatusLine(line)
	if !ok {
		return r, fmt.Errorf("%w: status line %q", errMalformed, trunc(line))
	}
	r.Status = status
	r.Close = !proto11 // HTTP/1.0 closes unless it says keep-alive
	var (
		length        int64 = -1
		chunked, seen bool
		total         = len(line)
	)
	for {
		line, err := p.readLine()
		if err != nil {
			return r, err
		}
		if total += len(line); total > maxHeaderBytes {
			return r, fmt.Errorf("%w: header too long", errMalformed)
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		// A name is a token, or has spaces as well (net/textproto accepts them, see
		// go.dev/issue/34540); a line folded onto the previous one (obsolete) is refused.
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' || !isName(line[:colon]) || !isFieldValue(line[colon+1:]) {
			return r, fmt.Errorf("%w: header line %q", errMalformed, trunc(line))
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseLength(value)
			if !ok || (seen && n != length) {
				return r, fmt.Errorf("%w: Content-Length %q", errMalformed, trunc(value))
			}
			length, seen = n, true
		case asciiEqualFold(name, "Transfer-Encoding") && proto11: // HTTP/1.0 has none
			if !asciiEqualFold(value, "chunked") || chunked {
				return r, fmt.Errorf("%w: unsupported Transfer-Encoding %q", errMalformed, trunc(value))
			}
			chunked = true
		case asciiEqualFold(name, "Connection"):
			if hasToken(value, "close") {
				r.Close = true
			} else if hasToken(value, "keep-alive") && !proto11 {
				r.Close = false
			}
		case asciiEqualFold(name, "Content-Type"):
			p.ct = append(p.ct[:0], value...)
			r.ContentType = p.ct
		case asciiEqualFold(name, "Retry-After"):
			p.ra = append(p.ra[:0], value...)
			r.RetryAfter = p.ra
		}
	}
	if (r.Status >= 100 && r.Status < 200) || r.Status == 204 || r.Status == 304 || method == "HEAD" {
		return r, nil
	}
	p.body, p.dropped = p.body[:0], 0
	switch {
	case chunked: // Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
		err = p.readChunked(&r)
	case seen:
		err = p.readN(&r, length)
	default:
		r.Close = true
		err = p.readN(&r, -1)
	}
	r.Body = p.body
	return r, err
}

// readN reads n bytes of body, or up to EOF when n < 0.
func (p *respReader) readN(r *response, n int64) error {
	for n != 0 {
		buf, err := p.br.Peek(1)
		if len(buf) == 0 {
			if n < 0 && err == io.EOF {
				return nil
			}
			return unexpectedEOF(err)
		}
		buf, _ = p.br.Peek(p.br.Buffered())
		if n > 0 && int64(len(buf)) > n {
			buf = buf[:n]
		}
		if !p.keep(r, buf) {
			return nil
		}
		_, _ = p.br.Discard(len(buf))
		p.got += len(buf)
		if n > 0 {
			n -= int64(len(buf))
		}
	}
	return nil
}

// keep adds b to the body up to maxBody and drops the rest. A body longer than maxBody
// closes the connection (it is not worth keeping), and past maxBody+maxDrain keep reports
// false: stop reading.
func (p *respReader) keep(r *response, b []byte) bool {
	take := min(maxBody-len(p.body), len(b))
	p.body = append(p.body, b[:take]...)
	if rest := len(b) - take; rest > 0 {
		r.Close = true
		p.dropped += rest
		return p.dropped <= maxDrain
	}
	return true
}

// readChunked reads a chunked body and its trailers.
func (p *respReader) readChunked(r *response) error {
	for {
		line, err := p.readLine()
		if err != nil {
			return unexpectedEOF(err)
		}
		if !p.cr {
			return fmt.Errorf("%w: chunk line ends with a bare LF", errMalformed)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseHex(trimOWS(line))
		if !ok {
			return fmt.Errorf("%w: chunk size %q", errMalformed, trunc(line))
		}
		if size == 0 {
			break
		}
		if err := p.readN(r, size); err != nil {
			return err
		}
		if p.dropped > maxDrain {
			return nil
		}
		crlf, err := p.readLine()
		if err != nil {
			return unexpectedEOF(err)
		}
		if len(crlf) != 0 || !p.cr {
			return fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
	// Trailers, ignored; like net/http, they must end with CRLF CRLF.
	for prevCR := true; ; {
		line, err := p.readLine()
		if err != nil {
			return unexpectedEOF(err)
		}
		if len(line) == 0 {
			if !p.cr || !prevCR {
				return fmt.Errorf("%w: trailer not ended by CRLF CRLF", errMalformed)
			}
			return nil
		}
		prevCR = p.cr
	}
}

// readLine returns the next line without its CRLF (or LF). The slice is valid until the next
// read.
func (p *respReader) readLine() ([]byte, error) {
	line, err := p.br.ReadSlice('\n')
	p.got += len(line)
	if err == bufio.ErrBufferFull {
		p.line = append(p.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(p.line) > maxHeaderBytes {
				return nil, fmt.Errorf("%w: line too long", errMalformed)
			}
			line, err = p.br.ReadSlice('\n')
			p.got += len(line)
			p.line = append(p.line, line...)
		}
		line = p.line
	}
	if err != nil {
		if err == io.EOF && p.got > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	p.cr = false
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line, p.cr = line[:n-1], true
	}
	return line, nil
}

// parseStatusLine parses "HTTP/1.x NNN reason" as net/http does: spaces may precede the
// code, which ends at the next space.
func parseStatusLine(line []byte) (proto11 bool, status int, ok bool) {
	if len(line) < 9 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return false, 0, false
	}
	switch line[7] {
	case '0':
	case '1':
		proto11 = true
	default:
		return false, 0, false
	}
	code := bytes.TrimLeft(line[9:], " ")
	if i := bytes.IndexByte(code, ' '); i >= 0 {
		code = code[:i]
	}
	if len(code) != 3 {
		return false, 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false, 0, false
		}
		status = status*10 + int(c-'0')
	}
	return proto11, status, status >= 100
}

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | int64(c)
	}
	return n, true
}

// isName reports whether b is an RFC 9110 token, but for spaces.
func isName(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', '\t':
			return false
		}
	}
	return true
}

// isFieldValue reports whether b has no control bytes but tab, as net/textproto requires.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold compares b and s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasToken reports whether the comma-separated list v names tok (any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		part := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if asciiEqualFold(trimOWS(part), tok) {
			return true
		}
	}
	return false
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// trunc shortens what an error quotes.
func trunc(b []byte) []byte { return b[:min(len(b), 64)] }

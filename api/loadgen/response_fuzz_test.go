package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadResponse checks the load generator's response parser against net/http's: whatever
// it accepts, net/http accepts with the same status and body; whatever net/http accepts in
// the framings it supports (no 1xx, bodies under maxBody), it accepts too.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"h1\"}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.0 200 OK\r\n\r\nuntil eof",
		"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := respReader{br: bufio.NewReaderSize(bytes.NewReader(in), 64)} // small: long lines
		got, err := rd.read(http.MethodPost)

		// net/http's Transport skips 1xx answers (but 101) before the final one.
		hr := bufio.NewReader(bytes.NewReader(in))
		res, herr := http.ReadResponse(hr, &http.Request{Method: http.MethodPost})
		for n := 0; herr == nil && res.StatusCode >= 100 && res.StatusCode < 200 && res.StatusCode != 101 && n < maxInformative; n++ {
			res, herr = http.ReadResponse(hr, &http.Request{Method: http.MethodPost})
		}
		var hbody []byte
		if herr == nil {
			hbody, herr = io.ReadAll(res.Body)
		}
		if err == nil {
			if herr != nil {
				t.Fatalf("accepted what net/http refuses (%v): %q", herr, in)
			}
			if got.Status != res.StatusCode || !bytes.Equal(got.Body, hbody) {
				t.Fatalf("status %d body %q, net/http %d %q: %q", got.Status, got.Body, res.StatusCode, hbody, in)
			}
			if ct := res.Header.Get("Content-Type"); string(got.ContentType) != ct && len(res.Header.Values("Content-Type")) == 1 {
				t.Fatalf("Content-Type %q, net/http %q", got.ContentType, ct)
			}
			return
		}
		if herr == nil && (bytes.HasPrefix(in, []byte("HTTP/1.0 ")) || bytes.HasPrefix(in, []byte("HTTP/1.1 "))) && res.StatusCode >= 200 && len(hbody) < maxBody && !strings.Contains(string(in), "\n ") && !strings.Contains(string(in), "\n\t") {
			t.Fatalf("refused (%v) what net/http accepts (%d %q): %q", err, res.StatusCode, hbody, in)
		}
	})
}

// FuzzHoldID checks holdIDOf against json.Unmarshal of the hold's id.
func FuzzHoldID(f *testing.F) {
	for _, s := range []string{
		`{"id":"h_1","resource_id":"r","buckets":["all"],"quantity":1}`,
		`{"ID":"x","id":"y"}`, `{"id":"a\"b"}`, `{"\u0069d":"z"}`, `null`, `[]`, `{"id":3}`,
		`{"x":{"id":"no"},"id":"yes"}`, `{"id":null}`, ` { "id" : "s" } `, `{"a":[1,{"b":"}"}],"id":"q"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := holdIDOf(in)
		var h struct {
			ID string `json:"id"`
		}
		herr := json.Unmarshal(in, &h)
		if (err == nil) != (herr == nil) || (err == nil && got != h.ID) {
			t.Fatalf("holdIDOf(%q) = %q, %v; json.Unmarshal %q, %v", in, got, err, h.ID, herr)
		}
	})
}

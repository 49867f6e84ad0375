package httpserver

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"testing"
)

// FuzzLeanHeadAgreesWithNetHTTP: whatever the bytes, the fast path's head parser never
// panics, and every head it accepts net/http's own parser accepts too, with the same method,
// target, Host, Content-Length and fields: the fast path never reads a request differently
// from net/http (the basis of its smuggling safety; everything else is handed over).
func FuzzLeanHeadAgreesWithNetHTTP(f *testing.F) {
	for _, raw := range parityCases {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, n := scanHead(raw)
		if v != headWhole {
			return
		}
		head, ok := parseHead(raw[:n], func(string) bool { return true })
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw[:n])))
		if err != nil {
			t.Fatalf("the fast path accepts a head net/http refuses (%v): %q", err, raw[:n])
		}
		switch {
		case req.Method != http.MethodPost, req.RequestURI != head.target, req.URL.Path != head.target,
			req.Host != head.host, req.ContentLength != head.length, len(req.TransferEncoding) != 0:
			t.Fatalf("read differently: net/http %s %q host %q length %d te %v; fast path %q host %q length %d",
				req.Method, req.RequestURI, req.Host, req.ContentLength, req.TransferEncoding, head.target, head.host, head.length)
		}
		req.Header.Del("Host") // net/http moves Host to req.Host
		if !equalHeaders(req.Header, head.header, "Host") {
			t.Fatalf("fields differ: net/http %v, fast path %v", req.Header, head.header)
		}
	})
}

func equalHeaders(a, b http.Header, skip string) bool {
	n := 0
	for k, vs := range b {
		if k == skip {
			continue
		}
		n++
		if !slices.Equal(a[k], vs) {
			return false
		}
	}
	return n == len(a)
}

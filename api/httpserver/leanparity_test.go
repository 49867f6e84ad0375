package httpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// parityHandler answers what it was given: method, target, Host, the body's length and
// bytes, and the fields a smuggler plays with, so that two servers given the same bytes can
// be compared by their answers alone.
func parityHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/noread" { // a refusal before the body is read (401, 429)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "no\n")
			return
		}
		body, err := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Echo-Id", r.Header.Get("X-Id"))
		fmt.Fprintf(w, "%s %s host=%q len=%d cl=%d te=%q err=%v body=%q\n", r.Method, r.URL.Path, r.Host,
			len(body), r.ContentLength, r.TransferEncoding, err != nil, body)
	})
}

// startParity serves parityHandler on net/http alone (lean false) or through Lean.
func startParity(t *testing.T, lean bool) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.IdleTimeout = time.Second, 2*time.Second, time.Second
	cfg.MaxHeaderBytes = 8 << 10
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(parityHandler(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if lean {
		l, err := NewLean(srv, cfg, func(target string) bool { return strings.HasPrefix(target, "/v1/") })
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- l.Serve(ln) }()
	} else {
		go func() { done <- srv.Serve(ln) }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return tcp.Addr().String()
}

var dateField = regexp.MustCompile(`(?m)^Date: .*\r\n`)

// exchange sends raw on a new connection, half-closes nothing, and returns every byte the
// server sends until it closes the connection or stays silent for quiet; the Date fields are
// taken out. closed reports whether the server closed the connection.
func exchange(t *testing.T, addr, raw string, quiet time.Duration) (out string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			var ne net.Error
			closed = !(errors.As(err, &ne) && ne.Timeout())
			break
		}
	}
	return dateField.ReplaceAllString(b.String(), ""), closed
}

// parityCases are requests whose framing, fields or form a proxy and a server could read
// differently (request smuggling), bad forms net/http refuses, and the fast path's own form
// with the variations it must serve exactly as net/http.
var parityCases = map[string]string{
	"plain":                        "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Id: 1\r\n\r\nhello",
	"plain twice pipelined":        "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nyz",
	"then a GET":                   "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxGET /v1/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"then a bad request":           "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nxPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxyz",
	"zero length":                  "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"lower-case names":             "POST /v1/holds HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nx-id: 7\r\n\r\nok",
	"spaces around values":         "POST /v1/holds HTTP/1.1\r\nHost:  a \r\nContent-Length:\t3 \r\nX-Id:  8\t\r\n\r\nabc",
	"CL and TE":                    "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
	"TE and CL":                    "POST /v1/holds HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
	"TE chunked":                   "POST /v1/holds HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"TE obfuscated":                "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding : chunked\r\n\r\nabc",
	"two CLs differing":            "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 3\r\n\r\nabc",
	"two CLs equal":                "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"CL list":                      "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
	"CL plus sign":                 "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
	"CL negative":                  "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nabc",
	"CL hex":                       "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc",
	"CL huge":                      "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\nabc",
	"no CL":                        "POST /v1/holds HTTP/1.1\r\nHost: a\r\n\r\n",
	"obs-fold":                     "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-Id: 1\r\n 2\r\n\r\nabc",
	"bare LF":                      "POST /v1/holds HTTP/1.1\nHost: a\nContent-Length: 3\n\nabc",
	"bare CR":                      "POST /v1/holds HTTP/1.1\r\nHost: a\rX: b\r\nContent-Length: 3\r\n\r\nabc",
	"space before colon":           "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc",
	"NUL in value":                 "POST /v1/holds HTTP/1.1\r\nHost: a\r\nX-Id: a\x00b\r\nContent-Length: 3\r\n\r\nabc",
	"no Host":                      "POST /v1/holds HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	"two Hosts":                    "POST /v1/holds HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc",
	"bad Host":                     "POST /v1/holds HTTP/1.1\r\nHost: a/b\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.0":                     "POST /v1/holds HTTP/1.0\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.0 keep-alive":          "POST /v1/holds HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
	"Connection keep-alive":        "POST /v1/holds HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxPOST /v1/holds HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
	"Connection keep-alive, close": "POST /v1/holds HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nxPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"two Connection fields":        "POST /v1/holds HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 1\r\n\r\nxPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"Connection close":             "POST /v1/holds HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabcPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"Expect 100-continue":          "POST /v1/holds HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
	"Upgrade":                      "POST /v1/holds HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 3\r\n\r\nabc",
	"absolute target":              "POST http://a/v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"query":                        "POST /v1/holds?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"percent":                      "POST /v1/ho%6Cds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"dot segments":                 "POST /v1/../holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"not hot":                      "POST /v2/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"two spaces":                   "POST  /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"lower-case method":            "post /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"leading CRLF":                 "\r\nPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
	"huge header":                  "POST /v1/holds HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 16<<10) + "\r\nContent-Length: 3\r\n\r\nabc",
	"header just over 4 KiB":       "POST /v1/holds HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 4<<10) + "\r\nContent-Length: 3\r\n\r\nabc",
	"non-ASCII value":              "POST /v1/holds HTTP/1.1\r\nHost: a\r\nX-Id: caf\xc3\xa9\r\nContent-Length: 3\r\n\r\nabc",
	"body short":                   "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc",
	"body longer":                  "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nabcdef",
	"head cut":                     "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Le",
	"unread body then another":     "POST /v1/noread HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloPOST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
	"unread body 300 KiB":          "POST /v1/noread HTTP/1.1\r\nHost: a\r\nContent-Length: 307200\r\n\r\n" + strings.Repeat("z", 300<<10) + "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
	"unread body cut":              "POST /v1/noread HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\nhello",
	"garbage":                      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
}

// TestLeanParity: for every case, the fast path's server answers byte for byte what net/http
// alone answers (Date aside), and closes the connection when net/http does.
func TestLeanParity(t *testing.T) {
	if leanMode {
		t.Skip("compares both modes itself")
	}
	plain, lean := startParity(t, false), startParity(t, true)
	for name, raw := range parityCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, wantClosed := exchange(t, plain, raw, 1500*time.Millisecond)
			got, gotClosed := exchange(t, lean, raw, 1500*time.Millisecond)
			if got != want || gotClosed != wantClosed {
				t.Errorf("net/http answered (closed %v):\n%q\nthe fast path (closed %v):\n%q", wantClosed, want, gotClosed, got)
			}
		})
	}
}

// TestLeanParityRandom mutates the fast path's own form at random (seeded), byte by byte and
// field by field, and checks that both servers answer alike.
func TestLeanParityRandom(t *testing.T) {
	if leanMode {
		t.Skip("compares both modes itself")
	}
	plain, lean := startParity(t, false), startParity(t, true)
	base := "POST /v1/holds HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Id: 1\r\n\r\nhello"
	inserts := []string{"\r\n", "\n", "\r", " ", "\t", ":", "\x00", "\x7f", "\xff", "Content-Length: 2\r\n",
		"Transfer-Encoding: chunked\r\n", "Host: b\r\n", "0", ",", "-", "+"}
	rng := rand.New(rand.NewPCG(15, 17))
	for i := range 60 {
		b := []byte(base)
		for range 1 + rng.IntN(2) {
			at := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0: // delete a byte
				b = append(b[:at], b[at+1:]...)
			case 1: // insert a piece
				ins := inserts[rng.IntN(len(inserts))]
				b = append(b[:at], append([]byte(ins), b[at:]...)...)
			default: // change a byte
				b[at] = byte(rng.IntN(256))
			}
		}
		raw := string(b)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			want, wantClosed := exchange(t, plain, raw, 1500*time.Millisecond)
			got, gotClosed := exchange(t, lean, raw, 1500*time.Millisecond)
			if got != want || gotClosed != wantClosed {
				t.Errorf("request %q\nnet/http answered (closed %v):\n%q\nthe fast path (closed %v):\n%q", raw, wantClosed, want, gotClosed, got)
			}
		})
	}
}

// TestLeanShutdown: a fast-path connection waiting for a request is closed by srv.Shutdown,
// one in the middle of a request gets its answer (with Connection: close) first, and Serve
// returns after both.
func TestLeanShutdown(t *testing.T) {
	if leanMode {
		t.Skip("runs the fast path itself")
	}
	cfg := DefaultConfig()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := Listen(tcp, cfg)
	srv, _ := New(h, cfg)
	l, err := NewLean(srv, cfg, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve(ln) }()
	addr := tcp.Addr().String()

	idle, _ := net.Dial("tcp", addr)
	defer idle.Close()
	br := bufio.NewReader(idle)
	io.WriteString(idle, "POST /v1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first answer: %v %v", resp, err)
	}
	busy, _ := net.Dial("tcp", addr)
	defer busy.Close()
	io.WriteString(busy, "POST /v1/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if !closedByServer(idle, 5*time.Second) {
		t.Fatal("an idle fast-path connection was kept open during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("answer in flight: %v %v (want 200 and Connection: close)", resp, err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}

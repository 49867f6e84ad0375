package httpserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// These run on net/http alone and again through the fast path (TestMain): what they check is
// net/http's behaviour, which the fast path must share (issue 17, round 16: without it, every
// attempt a retrying client gave up on kept its handler and its command at the owner until
// the command's own deadline).

// slowHandler waits for the request's context or for 5 s and reports on gone how it ended:
// true when the context was cancelled.
func slowHandler(entered chan<- struct{}, gone chan<- bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
			gone <- true
		case <-time.After(5 * time.Second):
			gone <- false
		}
		io.WriteString(w, "late")
	}
}

func TestGoneClientCancelsTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		late       time.Duration // the body comes this long after the head
	}{
		{"empty body", "", 0},
		{"body", `{"qty":1}`, 0},
		// The handler is still reading the body when leanWatchAfter has passed: the watch
		// must try again once it is read (round 17: it gave up for good).
		{"body after the watch's first look", `{"qty":1}`, 3 * leanWatchAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered, gone := make(chan struct{}, 1), make(chan bool, 1)
			s := serve(t, DefaultConfig(), slowHandler(entered, gone))
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			req := "POST /v1/resources/r/holds HTTP/1.1\r\nHost: allot\r\nContent-Length: " +
				strconv.Itoa(len(tc.body)) + "\r\n\r\n"
			if tc.late == 0 {
				req += tc.body
			}
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			if tc.late > 0 {
				time.Sleep(tc.late) // the handler waits in its body's read meanwhile
				if _, err := io.WriteString(c, tc.body); err != nil {
					t.Fatal(err)
				}
			}
			<-entered
			start := time.Now()
			c.Close() // the client gives up (an attempt timeout)
			select {
			case cancelled := <-gone:
				if !cancelled {
					t.Fatal("the handler ran to its end with its client gone: the context was not cancelled")
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("cancelled %v after the client left", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not end")
			}
		})
	}
}

// A pipelined request that arrives while a slow handler runs (the watch may read its first
// byte) or with the first request (it waits in the buffer) is served, whole, after it.
func TestPipelinedRequestDuringSlowHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/slow" {
			time.Sleep(300 * time.Millisecond) // past leanWatchAfter: the connection is watched
		}
		io.WriteString(w, r.URL.Path+" "+string(body))
	})
	s := serve(t, DefaultConfig(), h)
	second := "POST /v1/next HTTP/1.1\r\nHost: allot\r\nContent-Length: 2\r\n\r\nhi"
	for _, tc := range []struct {
		name  string
		pause time.Duration // between the two requests' bytes
		split int           // bytes of the second request sent after the pause
	}{
		{"together", 0, 0},
		{"during the handler", 150 * time.Millisecond, len(second)},
		{"one byte during the handler", 150 * time.Millisecond, 1},
		{"head during the handler, rest after", 150 * time.Millisecond, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			first := "POST /v1/slow HTTP/1.1\r\nHost: allot\r\nContent-Length: 1\r\n\r\nx"
			if tc.pause == 0 {
				io.WriteString(c, first+second)
			} else {
				io.WriteString(c, first)
				time.Sleep(tc.pause)
				io.WriteString(c, second[:tc.split])
				time.Sleep(tc.pause) // the watch has ended by now (the handler returned)
				io.WriteString(c, second[tc.split:])
			}
			br := bufio.NewReader(c)
			for _, want := range []string{"/v1/slow x", "/v1/next hi"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %q: %v", want, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(b) != want {
					t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, b, want)
				}
			}
		})
	}
}

// A client that waits for a slow answer is answered and its connection kept: the watch reads
// nothing and is ended when the handler returns.
func TestSlowAnswerKeepsTheConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	s := serve(t, DefaultConfig(), h)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for i := range 3 {
		io.WriteString(c, "POST /v1/slow HTTP/1.1\r\nHost: allot\r\nContent-Length: 0\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok" || resp.Close {
			t.Fatalf("answer %d: %d %q close=%v", i, resp.StatusCode, b, resp.Close)
		}
	}
	if n := counter(t, s.reg, "allot_http_fast_path_requests_total"); leanMode && n != 3 {
		t.Errorf("%v requests served on the fast path, want 3", n)
	}
}

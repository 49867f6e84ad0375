package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// wrappingWriter is a layer below front that wraps the writer again, as a HEAD's or a report
// stream's does.
type wrappingWriter struct{ gin.ResponseWriter }

// TestStateOfThroughTheWriter: below front, stateOf finds the request's own state through the
// writer, and through the Keys entry once a later layer wrapped the writer; a HEAD request's
// body is still dropped; http.ResponseController reaches net/http's writer through the
// edgeWriter of a GET (a write deadline can be set, as live streams do); the state of one request is
// never another's.
func TestStateOfThroughTheWriter(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	m, err := newHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := Server{cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler), metrics: m}
	e := gin.New()
	e.Use(s.front)
	seen := map[*edgeState]bool{}
	check := func(c *gin.Context, wrapped bool) {
		st := stateOf(c)
		v, _ := c.Get(stateKey)
		if st == nil || st != v.(*edgeState) {
			t.Errorf("%s %s: stateOf %p, Keys entry %p", c.Request.Method, c.Request.URL.Path, st, v)
			return
		}
		if _, viaWriter := c.Writer.(*edgeWriter); viaWriter == wrapped {
			t.Errorf("%s %s: writer %T", c.Request.Method, c.Request.URL.Path, c.Writer)
		}
		if seen[st] {
			t.Errorf("%s %s: the state of an earlier request", c.Request.Method, c.Request.URL.Path)
		}
		seen[st] = true
		if got := RequestIDOf(c); got == "" || got != c.Writer.Header().Get(RequestIDHeader) {
			t.Errorf("%s %s: request id %q, header %q", c.Request.Method, c.Request.URL.Path, got, c.Writer.Header().Get(RequestIDHeader))
		}
	}
	e.Any("/plain", func(c *gin.Context) {
		check(c, false)
		// A HEAD's bodylessWriter (under the edgeWriter) has no Unwrap, as before.
		if c.Request.Method != http.MethodHead {
			if err := http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline through the edge's writer: %v", err)
			}
		}
		c.String(http.StatusOK, "body")
	})
	e.Any("/wrapped", func(c *gin.Context) {
		c.Writer = wrappingWriter{c.Writer}
		check(c, true)
		c.String(http.StatusOK, "body")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	for range 3 {
		for _, path := range []string{"/plain", "/wrapped"} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				req, _ := http.NewRequest(method, srv.URL+path, nil)
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := res.Body.Read(make([]byte, 16))
				res.Body.Close()
				if want := map[string]int{http.MethodGet: 4, http.MethodHead: 0}[method]; res.StatusCode != http.StatusOK || n != want {
					t.Fatalf("%s %s: %d with %d body bytes, want 200 with %d", method, path, res.StatusCode, n, want)
				}
			}
		}
	}
}

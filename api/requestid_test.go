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

// TestKeysPoolLendsAClearedMap: a request sees only its own keys, whatever the request before
// it set, and its Context holds no map once the request is done.
func TestKeysPoolLendsAClearedMap(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	m, err := newHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := Server{cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler), metrics: m}
	e := gin.New()
	var lent []*gin.Context
	e.Use(s.front)
	e.GET("/:n", func(c *gin.Context) {
		if _, ok := c.Get("set-by-earlier"); ok {
			t.Errorf("request %s sees a key of an earlier request", c.Param("n"))
		}
		if got := RequestIDOf(c); got == "" {
			t.Errorf("request %s has no request id", c.Param("n"))
		}
		c.Set("set-by-earlier", c.Param("n"))
		for i := range keysPoolMax + 1 { // one map grows past what is pooled
			if c.Param("n") == "3" {
				c.Set(i, i)
			}
		}
		lent = append(lent, c)
		c.Status(http.StatusNoContent)
	})
	for _, n := range []string{"1", "2", "3", "4", "5"} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+n, nil))
		if w.Code != http.StatusNoContent || w.Header().Get(RequestIDHeader) == "" {
			t.Fatalf("request %s: %d %v", n, w.Code, w.Header())
		}
		if c := lent[len(lent)-1]; c.Keys != nil {
			t.Fatalf("request %s: Context keeps its keys after the request: %v", n, c.Keys)
		}
	}
}

// TestWriteJSONBodyIsGinData: writeJSONBody answers exactly as c.Data(status,
// "application/json", body): status, headers and body, for statuses with and without a body,
// an empty body, a Content-Type already set, and a HEAD request's bodyless writer.
func TestWriteJSONBodyIsGinData(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	type tc struct {
		status int
		body   string
		ct     string // a Content-Type set before
		method string
	}
	var cases []tc
	for _, st := range []int{http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusNotModified, http.StatusConflict} {
		for _, body := range []string{"", "{}\n", `{"id":"h_1","buckets":["2026-01-01"]}` + "\n"} {
			for _, ct := range []string{"", "application/problem+json"} {
				for _, m := range []string{http.MethodGet, http.MethodHead} {
					cases = append(cases, tc{st, body, ct, m})
				}
			}
		}
	}
	serve := func(c tc, write func(*gin.Context)) *httptest.ResponseRecorder {
		e := gin.New()
		e.Use(headOnly)
		e.Handle(c.method, "/", func(g *gin.Context) {
			if c.ct != "" {
				g.Header("Content-Type", c.ct)
			}
			write(g)
		})
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(c.method, "/", nil))
		return w
	}
	for _, c := range cases {
		want := serve(c, func(g *gin.Context) { g.Data(c.status, "application/json", []byte(c.body)) })
		got := serve(c, func(g *gin.Context) { writeJSONBody(g, c.status, []byte(c.body)) })
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%+v: got %d %q, want %d %q", c, got.Code, got.Body, want.Code, want.Body)
		}
		if len(got.Header()) != len(want.Header()) {
			t.Errorf("%+v: headers %v, want %v", c, got.Header(), want.Header())
		}
		for k, v := range want.Header() {
			if g := got.Header()[k]; len(g) != len(v) || (len(v) > 0 && g[0] != v[0]) {
				t.Errorf("%+v: %s = %q, want %q", c, k, g, v)
			}
		}
	}
	if jsonContentType[0] != "application/json" || len(jsonContentType) != 1 {
		t.Fatalf("the shared Content-Type was changed: %q", jsonContentType)
	}
}

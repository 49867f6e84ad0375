package reports_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
)

// countingStore counts the views and the writes that reach the store, and fails writes while
// fail is set.
type countingStore struct {
	reports.Store
	writes, views int
	fail          bool
}

func (s *countingStore) RecordViews(ctx context.Context, views []reports.View) error {
	if s.fail {
		return errors.New("store down")
	}
	s.writes++
	s.views += len(views)
	return s.Store.RecordViews(ctx, views)
}

func TestViewsMiddleware(t *testing.T) {
	store := &countingStore{Store: mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db"))}
	now := storetest.T0
	v, err := reports.NewViews(reports.ViewsConfig{Store: store, Key: []byte("0123456789abcdef"),
		Now:     func() time.Time { return now },
		Subject: func(c *gin.Context) string { return c.GetHeader("X-User") }})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/v1/resources/:rid/availability", v.Middleware(), func(c *gin.Context) {
		if c.Param("rid") == "missing" {
			c.Status(http.StatusNotFound)
			return
		}
		c.String(200, "{}")
	})
	call := func(rid, user string) {
		r, _ := http.NewRequest(http.MethodGet, "/v1/resources/"+rid+"/availability", nil)
		r.Header.Set("X-User", user)
		e.ServeHTTP(discard{}, r)
	}
	call("r1", "alice")
	call("r1", "alice")
	call("r1", "bob")
	call("r1", "")       // anonymous: not counted
	call("missing", "x") // not an answer: not counted
	now = now.Add(time.Hour)
	call("r1", "alice") // the next UTC day
	if store.writes != 0 || v.Pending() != 3 {
		t.Fatalf("%d writes, %d pending before a flush; want 0 and 3 (nothing written on the request's path)", store.writes, v.Pending())
	}
	store.fail = true
	if err := v.Flush(context.Background()); err == nil || v.Pending() != 3 {
		t.Fatalf("failed flush: %v, %d pending; want an error and the 3 views kept", err, v.Pending())
	}
	store.fail = false
	if err := v.Close(); err != nil { // never started: Close flushes what is pending
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if store.writes != 1 || store.views != 3 || v.Pending() != 0 {
		t.Fatalf("%d writes of %d views (%d pending), want 1 of 3 (repeats skipped in memory, one batch)", store.writes, store.views, v.Pending())
	}
	views, err := store.Views(context.Background(), reports.Filter{})
	if err != nil || len(views) != 2 || views[0].Viewers != 2 || views[1].Viewers != 1 {
		t.Fatalf("views = %+v, %v", views, err)
	}
	if _, err := reports.NewViews(reports.ViewsConfig{Store: store, Subject: func(*gin.Context) string { return "" }, Key: []byte("short")}); err == nil ||
		!strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("short key: %v", err)
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// TestViewsBounded: with MaxPending views waiting (the store is down), further views are
// dropped and counted, not queued without bound.
func TestViewsBounded(t *testing.T) {
	store := &countingStore{Store: mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db")), fail: true}
	v, err := reports.NewViews(reports.ViewsConfig{Store: store, Key: []byte("0123456789abcdef"), MaxPending: 2,
		Now: func() time.Time { return storetest.T0 }, Subject: func(*gin.Context) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	v.Record("r1", "a")
	v.Record("r1", "b")
	v.Record("r2", "c")
	if v.Pending() != 2 || v.Dropped() != 1 {
		t.Fatalf("pending %d, dropped %d; want 2 and 1", v.Pending(), v.Dropped())
	}
	if err := v.Flush(context.Background()); err == nil {
		t.Fatal("flush to a failing store succeeded")
	}
	store.fail = false
	v.Start()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if store.views != 2 {
		t.Fatalf("%d views written, want 2", store.views)
	}
}

// BenchmarkViewsMiddleware measures what counting views adds to an availability answer at
// the edge: bare is the route without the counter; repeat a signed-in user already counted
// today (the common case: a page polling availability); new a user not seen yet today (one
// HMAC and an append). Nothing is written on the request's path in either case.
func BenchmarkViewsMiddleware(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	store := mustSQLiteStore(b, filepath.Join(b.TempDir(), "allot.db"))
	handler := func(c *gin.Context) { c.Data(http.StatusOK, "application/json", []byte(`{"buckets":{}}`)) }
	run := func(b *testing.B, e *gin.Engine, user func(i int) string) {
		r, _ := http.NewRequest(http.MethodGet, "/v1/resources/r1/availability", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.Header.Set("X-User", user(i))
			e.ServeHTTP(discard{}, r)
		}
	}
	views := func(b *testing.B) *gin.Engine {
		v, err := reports.NewViews(reports.ViewsConfig{Store: store, Key: []byte("0123456789abcdef"), MaxPending: 1 << 30,
			Now: func() time.Time { return storetest.T0 }, Subject: func(c *gin.Context) string { return c.GetHeader("X-User") }})
		if err != nil {
			b.Fatal(err)
		}
		e := gin.New()
		e.GET("/v1/resources/:rid/availability", v.Middleware(), handler)
		return e
	}
	b.Run("bare", func(b *testing.B) {
		e := gin.New()
		e.GET("/v1/resources/:rid/availability", handler)
		run(b, e, func(int) string { return "u-1" })
	})
	b.Run("repeat", func(b *testing.B) { run(b, views(b), func(int) string { return "u-1" }) })
	b.Run("new", func(b *testing.B) { run(b, views(b), func(i int) string { return "u-" + strconv.Itoa(i) }) })
}

// TestViewsStreamObserver: a connection to the availability stream counts one view when the
// stream begins (before the handler returns, which for a stream is when it ends), however
// many events it sends; a refused stream counts none. The writer still reaches the
// connection's deadlines through http.ResponseController, as the live streams need.
func TestViewsStreamObserver(t *testing.T) {
	store := &countingStore{Store: mustSQLiteStore(t, filepath.Join(t.TempDir(), "allot.db"))}
	v, err := reports.NewViews(reports.ViewsConfig{Store: store, Key: []byte("0123456789abcdef"),
		Now:     func() time.Time { return storetest.T0 },
		Subject: func(c *gin.Context) string { return c.GetHeader("X-User") }})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	pendingAtStart := make(chan int, 1)
	e.GET("/v1/resources/:rid/availability/stream", v.StreamObserver(), func(c *gin.Context) {
		if c.Param("rid") == "missing" {
			c.String(http.StatusNotFound, "no such resource")
			return
		}
		before := v.Pending()
		rc := http.NewResponseController(c.Writer)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("write deadline through the observer: %v", err)
		}
		c.Status(http.StatusOK)
		if v.Pending() != before {
			t.Errorf("a view counted before the stream began")
		}
		for i := 0; i < 3; i++ {
			_, _ = c.Writer.WriteString("data: {}\n\n")
			_ = rc.Flush()
		}
		pendingAtStart <- v.Pending() - before // still inside the handler: the connection is open
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func(rid, user string) int {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/resources/"+rid+"/availability/stream", nil)
		r.Header.Set("X-User", user)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := get("r1", "alice"); code != http.StatusOK {
		t.Fatalf("stream: %d", code)
	}
	if n := <-pendingAtStart; n != 1 {
		t.Fatalf("%d views noted while the stream ran, want 1 (once per connection, three events)", n)
	}
	if code := get("missing", "bob"); code != http.StatusNotFound {
		t.Fatalf("missing: %d", code)
	}
	get("r2", "bob")
	<-pendingAtStart
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if store.views != 2 {
		t.Fatalf("%d views written, want 2 (alice on r1, bob on r2; not the refused stream)", store.views)
	}
}

package reports_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/reports/storetest"
)

// countingStore counts the view writes that reach the store.
type countingStore struct {
	reports.Store
	writes int
}

func (s *countingStore) RecordView(ctx context.Context, rid, day, viewer string) error {
	s.writes++
	return s.Store.RecordView(ctx, rid, day, viewer)
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
	if store.writes != 3 {
		t.Fatalf("%d writes, want 3 (repeats skipped in memory)", store.writes)
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

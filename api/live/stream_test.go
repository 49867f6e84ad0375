package live

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/mount"
)

// knownReader is a versionReader that knows only some resources.
type knownReader struct {
	*versionReader
	known map[string]bool
}

func (r knownReader) ReadAvailability(ctx context.Context, rid string) (Snapshot, error) {
	if !r.known[rid] {
		return Snapshot{}, booking.Errorf(booking.CodeNotFound, "no such resource")
	}
	return r.versionReader.ReadAvailability(ctx, rid)
}

type streamEnv struct {
	srv   *httptest.Server
	hub   *Hub
	users *UserFeed
	r     *versionReader
	clock *fakeClock
	reads chan struct{}
}

func newStreamEnv(t *testing.T) *streamEnv {
	hub, r, clock, reads := newTestHub(t, 16)
	users := NewUserFeed(16)
	t.Cleanup(func() { _ = users.Close() })
	cfg := DefaultStreamConfig()
	cfg.Hub, cfg.Users, cfg.Reader = hub, users, knownReader{r, map[string]bool{"hotel-1": true}}
	cfg.AfterFunc = clock.AfterFunc
	cfg.Fail = func(c *gin.Context, err error) {
		status := map[string]int{booking.CodeNotFound: 404, booking.CodeMalformed: 400, booking.CodeInvalid: 422,
			booking.CodeUnauthenticated: 401}[booking.ErrorCode(err)]
		c.JSON(status, gin.H{"code": booking.ErrorCode(err)})
	}
	cfg.Subject = func(c *gin.Context) string { return c.GetHeader("X-Test-User") }
	s, err := NewStreams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	routes := s.Routes()
	mount.Mount(e, routes)
	rp := auth.RoutePolicies{}
	mount.AddPolicies(rp, routes)
	if p, _ := rp.Lookup("GET", "/v1/resources/:rid/availability/stream"); p != auth.Public {
		t.Fatalf("availability stream policy %s", p)
	}
	if p, _ := rp.Lookup("GET", "/v1/me/events"); p != auth.Customer {
		t.Fatalf("me/events policy %s", p)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &streamEnv{srv: srv, hub: hub, users: users, r: r, clock: clock, reads: reads}
}

// sseClient reads one SSE response block by block.
type sseClient struct {
	resp *http.Response
	sc   *bufio.Scanner
	t    *testing.T
}

func (e *streamEnv) open(t *testing.T, path string, header map[string]string) *sseClient {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return &sseClient{resp: resp, sc: bufio.NewScanner(resp.Body), t: t}
}

// block returns the next block's lines (up to the blank line).
func (c *sseClient) block() []string {
	c.t.Helper()
	done := make(chan []string, 1)
	go func() {
		var lines []string
		for c.sc.Scan() {
			if c.sc.Text() == "" {
				break
			}
			lines = append(lines, c.sc.Text())
		}
		done <- lines
	}()
	select {
	case lines := <-done:
		return lines
	case <-time.After(10 * time.Second):
		c.t.Fatal("no SSE block")
		return nil
	}
}

func TestAvailabilityStream(t *testing.T) {
	e := newStreamEnv(t)
	e.r.version.Store(3)
	c := e.open(t, "/v1/resources/hotel-1/availability/stream", nil)
	if c.resp.StatusCode != 200 || !strings.HasPrefix(c.resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", c.resp.StatusCode, c.resp.Header.Get("Content-Type"))
	}
	if b := c.block(); len(b) != 1 || b[0] != "retry: 2000" {
		t.Fatalf("first block %q", b)
	}
	b := c.block()
	if strings.Join(b, "|") != `id:3|event:availability|data:{"resource_id":"hotel-1","buckets":null}` {
		t.Fatalf("availability on connect: %q", b)
	}
	// A change: the next snapshot follows.
	e.r.version.Store(4)
	_ = e.hub.Handle(context.Background(), feed.Event{ResourceID: "hotel-1", Type: "hold.placed"})
	if b := c.block(); len(b) != 3 || b[0] != "id:4" {
		t.Fatalf("after a change: %q", b)
	}
	// Quiet for a heartbeat interval: a comment.
	e.clock.Advance(15 * time.Second)
	if b := c.block(); len(b) != 1 || b[0] != ": heartbeat" {
		t.Fatalf("heartbeat: %q", b)
	}
}

func TestAvailabilityStreamResumes(t *testing.T) {
	e := newStreamEnv(t)
	e.r.version.Store(7)
	// Up to date: no snapshot until the next change.
	c := e.open(t, "/v1/resources/hotel-1/availability/stream", map[string]string{"Last-Event-ID": "7"})
	c.block() // retry
	e.r.version.Store(8)
	e.hub.Changed("hotel-1")
	if b := c.block(); len(b) != 3 || b[0] != "id:8" {
		t.Fatalf("resumed stream: %q", b)
	}
	// Behind: the current snapshot at once.
	c2 := e.open(t, "/v1/resources/hotel-1/availability/stream", map[string]string{"Last-Event-ID": "5"})
	c2.block()
	if b := c2.block(); len(b) != 3 || b[0] != "id:8" {
		t.Fatalf("stream resumed from 5: %q", b)
	}
}

func TestAvailabilityStreamRefusals(t *testing.T) {
	e := newStreamEnv(t)
	for path, code := range map[string]int{
		"/v1/resources/nope/availability/stream": 404,
	} {
		if c := e.open(t, path, nil); c.resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, c.resp.StatusCode, code)
		}
	}
	if c := e.open(t, "/v1/resources/hotel-1/availability/stream", map[string]string{"Last-Event-ID": "x"}); c.resp.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: %d", c.resp.StatusCode)
	}
}

func TestMyEvents(t *testing.T) {
	e := newStreamEnv(t)
	if c := e.open(t, "/v1/me/events", nil); c.resp.StatusCode != 401 {
		t.Fatalf("anonymous: %d", c.resp.StatusCode)
	}
	c := e.open(t, "/v1/me/events", map[string]string{"X-Test-User": "alice"})
	c.block() // retry
	ctx := context.Background()
	_ = e.users.Handle(ctx, feed.Event{ID: "hotel-1/2/0", Type: "hold.placed", ResourceID: "hotel-1", Subject: "bob"})
	_ = e.users.Handle(ctx, feed.Event{ID: "hotel-1/3/0", Type: "hold.placed", ResourceID: "hotel-1", Subject: "alice"})
	b := c.block()
	if len(b) != 3 || b[0] != "id:hotel-1/3/0" || b[1] != "event:hold.placed" || !strings.Contains(b[2], `"subject":"alice"`) {
		t.Fatalf("alice's stream: %q", b)
	}
}

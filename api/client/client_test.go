package client_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// TestWalkAgainstTheRealNode walks every typed call against the real program: what the
// server encodes, the client decodes, and every error arrives as an *Error with its code.
func TestWalkAgainstTheRealNode(t *testing.T) {
	c, _ := mustNode(t)
	ctx := t.Context()

	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	if _, err := c.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	r, info, err := c.CreateResource(ctx, wire.CreateResource{
		ID: "hotel-1", Name: "Double room", HoldTTL: "10m",
		Buckets: map[string]int64{"2026-12-24": 2, "2026-12-25": 2},
		Price:   &wire.Money{Amount: 12000, Currency: "EUR"},
	})
	if err != nil || info.Status != http.StatusCreated || info.Owner == "" || info.Attempts != 1 {
		t.Fatalf("create: %v %+v", err, info)
	}
	if r.HoldTTL != "10m" || r.Price == nil || r.Price.Amount != 12000 || r.Buckets["2026-12-24"].Available != 2 {
		t.Fatalf("created %+v", r)
	}
	if _, _, err := c.CreateResource(ctx, wire.CreateResource{ID: "hotel-1", Name: "x", Buckets: map[string]int64{"a": 1}}); client.ErrorCode(err) != "already_exists" || client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("create again: %v", err)
	}
	got, _, err := c.GetResource(ctx, "hotel-1")
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("get resource %+v, %v; want %+v", got, err, r)
	}

	stay := wire.PlaceHold{Buckets: []string{"2026-12-24", "2026-12-25"}, Quantity: 2, UserID: "u-1"}
	h, info, err := c.PlaceHold(ctx, "hotel-1", "k-1", stay)
	if err != nil || info.Status != http.StatusCreated || info.Replayed {
		t.Fatalf("hold: %v %+v", err, info)
	}
	if h.Status != wire.HoldHeld || h.Quantity != 2 || h.ExpiresAt == nil || !h.ExpiresAt.After(h.CreatedAt) {
		t.Fatalf("hold %+v", h)
	}
	again, info, err := c.PlaceHold(ctx, "hotel-1", "k-1", stay)
	if err != nil || !info.Replayed || again.ID != h.ID {
		t.Fatalf("replay: %v %+v %+v", err, info, again)
	}
	_, _, err = c.PlaceHold(ctx, "hotel-1", "k-1", wire.PlaceHold{Buckets: []string{"2026-12-24"}, Quantity: 1, UserID: "u-1"})
	if client.ErrorCode(err) != "idempotency_mismatch" || client.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("mismatch: %v", err)
	}
	_, info, err = c.PlaceHold(ctx, "hotel-1", "k-2", wire.PlaceHold{Buckets: []string{"2026-12-24"}, Quantity: 1, UserID: "u-2"})
	var e *client.Error
	if !errors.As(err, &e) || e.Code() != "sold_out" || e.Status != http.StatusConflict || !e.FromAllot() ||
		e.Problem.Type != wire.ProblemTypeBase+"sold-out" || e.Owner == "" || info.Status != http.StatusConflict {
		t.Fatalf("sold out: %v %+v", err, info)
	}
	if !strings.Contains(err.Error(), "409 sold_out") {
		t.Fatalf("error text %q", err)
	}
	if _, _, err := c.PlaceHold(ctx, "hotel-1", "k-3", wire.PlaceHold{Buckets: []string{"2026-12-24"}, Quantity: -1, UserID: "u"}); client.ErrorCode(err) != "invalid" {
		t.Fatalf("negative quantity: %v", err)
	}

	av, _, err := c.Availability(ctx, "hotel-1")
	if err != nil || av.ResourceID != "hotel-1" || av.Buckets["2026-12-24"] != (wire.Bucket{Capacity: 2, Held: 2}) {
		t.Fatalf("availability %+v, %v", av, err)
	}
	g, _, err := c.GetHold(ctx, "hotel-1", h.ID)
	if err != nil || g.ID != h.ID || g.Status != wire.HoldHeld {
		t.Fatalf("get hold %+v, %v", g, err)
	}
	conf, _, err := c.ConfirmHold(ctx, "hotel-1", h.ID)
	if err != nil || conf.Status != wire.HoldConfirmed || conf.ExpiresAt != nil {
		t.Fatalf("confirm %+v, %v (a confirmed hold has no expires_at)", conf, err)
	}
	canc, _, err := c.CancelHold(ctx, "hotel-1", h.ID) // a booking can be cancelled
	if err != nil || canc.Status != wire.HoldCancelled || canc.ExpiresAt != nil {
		t.Fatalf("cancel %+v, %v (a cancelled hold has no expires_at)", canc, err)
	}
	if _, _, err := c.ConfirmHold(ctx, "hotel-1", h.ID); client.ErrorCode(err) != "conflict" {
		t.Fatalf("confirm a cancelled hold: %v", err)
	}
	if _, _, err := c.GetHold(ctx, "hotel-1", "h-nope"); client.ErrorCode(err) != "not_found" || client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("missing hold: %v", err)
	}

	// Listings come from the store; the cancellation is committed before its answer.
	list, _, err := c.UserHolds(ctx, "u-1", client.HoldQuery{})
	if err != nil || len(list.Holds) != 1 || list.Holds[0].ID != h.ID || list.Holds[0].Status != wire.HoldCancelled || list.Holds[0].ExpiresAt != nil {
		t.Fatalf("user holds %+v, %v", list, err)
	}
	list, _, err = c.ResourceHolds(ctx, "hotel-1", client.HoldQuery{Status: wire.HoldHeld, Limit: 5})
	if err != nil || len(list.Holds) != 0 {
		t.Fatalf("held holds %+v, %v", list, err)
	}
	if _, _, err := c.UserHolds(ctx, "u-1", client.HoldQuery{Limit: -1}); client.ErrorCode(err) != "invalid" {
		t.Fatalf("bad limit: %v", err)
	}
	ms, _, err := c.Members(ctx)
	if err != nil || len(ms.Members) != 1 || !ms.Members[0].Self || ms.Members[0].Status != "alive" {
		t.Fatalf("members %+v, %v", ms, err)
	}

	// Do reaches any route and returns the answer whatever its status.
	resp, err := c.Do(ctx, http.MethodPost, "/v1/resources", "", []byte(`{"id":`))
	if err != nil || resp.Status != http.StatusBadRequest || !strings.HasSuffix(string(resp.Body), "}\n") {
		t.Fatalf("malformed body: %v %+v %q", err, resp, resp.Body)
	}
	resp, err = c.Do(ctx, http.MethodGet, "/openapi.yaml", "", nil)
	if err != nil || resp.Status != http.StatusOK || !strings.HasPrefix(string(resp.Body), "openapi:") {
		t.Fatalf("openapi: %v %+v", err, resp)
	}
}

// TestNotAnAllotNode: a 404 that is no problem document names the likely cause.
func TestNotAnAllotNode(t *testing.T) {
	srv := mustScript(t, func(w http.ResponseWriter) { http.NotFound(w, nil) })
	c := mustClient(t, []string{srv.URL})
	_, _, err := c.CreateResource(t.Context(), wire.CreateResource{ID: "r", Name: "r", Buckets: map[string]int64{"a": 1}})
	var e *client.Error
	if !errors.As(err, &e) || e.FromAllot() || e.Status != 404 || e.Code() != "" {
		t.Fatalf("err %v", err)
	}
	want := "target " + srv.URL + " answered 404 to POST /v1/resources: is it an Allot node?"
	if err.Error() != want {
		t.Fatalf("error %q\nwant %q", err, want)
	}
}

// TestTokenSource: the bearer token is asked for on every attempt, so a retry sends a
// refreshed one; an empty token sends no header.
func TestTokenSource(t *testing.T) {
	srv := mustScript(t, busy(""), ok)
	var n int
	ts := tokenFunc(func() (string, error) { n++; return "t" + string(rune('0'+n)), nil })
	c := mustClient(t, []string{srv.URL}, client.WithTokenSource(ts), client.WithRetry(client.Retry{MaxAttempts: 2, Sleep: noSleep}))
	if _, err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := srv.auth(); !reflect.DeepEqual(got, []string{"Bearer t1", "Bearer t2"}) {
		t.Fatalf("Authorization %q", got)
	}

	srv = mustScript(t, ok)
	c = mustClient(t, []string{srv.URL}, client.WithToken("secret"))
	c.Health(t.Context())
	c.With(client.WithToken("")).Health(t.Context())
	if got := srv.auth(); !reflect.DeepEqual(got, []string{"Bearer secret", ""}) {
		t.Fatalf("Authorization %q", got)
	}

	broken := tokenFunc(func() (string, error) { return "", errors.New("expired") })
	c = mustClient(t, []string{srv.URL}, client.WithTokenSource(broken), client.WithRetry(client.Retry{MaxAttempts: 3, Sleep: noSleep}))
	before := len(srv.auth())
	if _, err := c.Health(t.Context()); err == nil || !strings.Contains(err.Error(), "token: expired") || len(srv.auth()) != before {
		t.Fatalf("a token error is returned before sending, without retries: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, bases := range [][]string{nil, {"localhost:8080"}, {"ftp://x"}, {"http://"}} {
		if _, err := client.New(bases); !errors.Is(err, client.ErrConfig) {
			t.Errorf("New(%q) = %v, want ErrConfig", bases, err)
		}
	}
	if _, err := client.New([]string{"http://x"}, client.WithRetry(client.Retry{})); !errors.Is(err, client.ErrConfig) {
		t.Errorf("a Retry without MaxAttempts or Budget: %v", err)
	}
	if _, err := client.New([]string{"http://x"}, client.WithHTTPClient(nil)); !errors.Is(err, client.ErrConfig) {
		t.Errorf("nil *http.Client: %v", err)
	}
}

func TestWithoutRetryIsOneAttempt(t *testing.T) {
	srv := mustScript(t, busy("3"), ok)
	c := mustClient(t, []string{srv.URL})
	info, err := c.Health(t.Context())
	var e *client.Error
	if !errors.As(err, &e) || e.Code() != "busy" || e.RetryAfter != 3*time.Second || info.Attempts != 1 || len(srv.auth()) != 1 {
		t.Fatalf("%v %+v", err, info)
	}
}

func TestWithBaseURLs(t *testing.T) {
	a, b := mustScript(t, ok), mustScript(t, ok)
	c := mustClient(t, []string{a.URL})
	if info, err := c.With(client.WithBaseURLs(b.URL)).Health(t.Context()); err != nil || info.Base != b.URL {
		t.Fatalf("%+v %v", info, err)
	}
	if len(a.seen()) != 0 || len(b.seen()) != 1 {
		t.Fatalf("a saw %d, b %d requests; want 0 and 1", len(a.seen()), len(b.seen()))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("With accepted a bad base URL")
		}
	}()
	c.With(client.WithBaseURLs("nope"))
}

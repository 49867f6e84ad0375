package cmd

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/reports"
)

// TestMainAvailabilityStreamCountsView: in the real program a connection to the availability
// stream counts as a view of the resource, once, while the connection is open (a stream ends
// only when its client leaves); a second connection of the same user on the same day adds no
// viewer, another user does.
func TestMainAvailabilityStreamCountsView(t *testing.T) {
	m := MustRunMain(t)
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	c.do(http.MethodPost, "/v1/resources", reportsOperator, `{"id":"hall-s","name":"Hall S","buckets":{"2026-12-24":10}}`, nil)

	// watch opens a stream as sub and waits for its first event: the stream began.
	watch := func(sub string) func() {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		ev := nextEvent(t, openStream(t, ctx, c.base+"/v1/resources/hall-s/availability/stream",
			c.token(auth.TokenSpec{Subject: sub, TTL: time.Hour})), "availability on connect")
		if ev.event != "availability" {
			cancel()
			t.Fatalf("first event %+v", ev)
		}
		return cancel
	}
	stop1 := watch("u-s1")
	if n := m.reports.views.Pending(); n != 1 {
		t.Fatalf("%d views pending with one stream open, want 1", n)
	}
	stop2 := watch("u-s1")
	stop3 := watch("u-s2")
	stop1()
	stop2()
	stop3()
	if err := m.reports.views.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var f reports.FunnelReport
	c.do(http.MethodGet, "/v1/reports/funnel?resource_id=hall-s", reportsOperator, "", &f)
	if f.Total.Views != 2 {
		t.Fatalf("funnel views %d, want 2 (u-s1 twice, u-s2)", f.Total.Views)
	}
}

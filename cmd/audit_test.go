package cmd

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"

	"github.com/allot/allot/api/audit"
)

// TestNodeAuditRetentionPrunes: a node started with --audit-retention deletes the entries
// older than it (by the node's clock) when its audit wiring starts; with 0 it keeps them, and
// Close stops the job.
func TestNodeAuditRetentionPrunes(t *testing.T) {
	dir := t.TempDir()
	m := MustRunMain(t, func(c *NodeConfig) { c.DataDir = dir })
	body := `{"id":"r-1","name":"Room","buckets":{"all":1},"hold_ttl":"10m"}`
	if resp, b := nodeCall(t, "POST", m.HTTPURL()+"/v1/resources", mint(t, m, nodeOperator), body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	const day = 24 * time.Hour
	for _, c := range []struct {
		retention time.Duration
		want      int
	}{{0, 1}, {500 * day, 1}, {400 * day, 0}} {
		n := NewMain()
		n.Config.HTTPAddr, n.Config.GossipAddr, n.Config.RemoteAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		n.Config.AdvertiseAddr, n.Config.AdminAddr, n.Config.DataDir = "127.0.0.1", "127.0.0.1:0", dir
		n.Config.AuditRetention = c.retention
		n.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		n.Now = func() time.Time { return time.Now().Add(401 * day) }
		armed := 0
		n.audit.afterFunc = func(d time.Duration, f func()) func() bool {
			if armed++; d == 0 {
				f() // the first prune, at once: synchronously, so the test sees its result
			}
			return func() bool { return true }
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		clustertest.BeforeInProcessNode(t, func() bool { return n.Node() != nil && !n.Closed() })
		err := n.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		page, err := n.audit.store.List(context.Background(), audit.Filter{Action: "resource.create", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != c.want || (c.retention == 0) != (n.audit.pruner == nil) {
			t.Errorf("retention %s: %d entries, want %d (pruner %v)", c.retention, len(page.Entries), c.want, n.audit.pruner != nil)
		}
		if c.retention > 0 && armed != 2 { // the first prune and the next one
			t.Errorf("retention %s: %d timers armed, want 2", c.retention, armed)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

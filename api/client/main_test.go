package client_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/cmd"
)

// mustNode boots the real program in process (one node, embedded store in a temp dir, every
// port 0 on loopback) and returns a client of it, without retries.
func mustNode(tb testing.TB, opts ...client.Option) (*client.Client, *cmd.Main) {
	tb.Helper()
	m := cmd.NewMain()
	m.Config.HTTPAddr = "127.0.0.1:0"
	m.Config.GossipAddr = "127.0.0.1:0"
	m.Config.RemoteAddr = "127.0.0.1:0"
	m.Config.AdvertiseAddr = "127.0.0.1"
	m.Config.AdminAddr = "127.0.0.1:0"
	m.Config.DataDir = tb.TempDir()
	m.Config.LeaveTimeout = 10 * time.Second
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	clustertest.BeforeInProcessNode(tb, func() bool { return m.Node() != nil && !m.Closed() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		tb.Fatalf("run main: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close main: %v", err)
		}
	})
	// The walk acts as an operator and admin (with a second factor): it creates resources,
	// places holds on behalf of users and reads the member list and X-Allot-Owner.
	admin := m.DevIssuer().TokenSource(auth.TokenSpec{Subject: "walker", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true})
	c, err := client.New([]string{m.HTTPURL()}, append([]client.Option{client.WithTokenSource(admin)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c, m
}

package cmd

import (
	"context"
	"time"

	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/allot/allot/cluster/clustertest"
)

func TestClusterConfigAdvertise(t *testing.T) {
	m := NewMain()
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		remote, advertise, wantHost, wantErr string
	}{
		{remote: "127.0.0.1:8090", wantHost: "127.0.0.1"},
		{remote: ":8090", advertise: "10.1.2.3", wantHost: "10.1.2.3"},
		{remote: ":8090", advertise: "10.1.2.3:7000", wantHost: "10.1.2.3"},
		{remote: ":8090", advertise: "::1", wantErr: "IPv6"},
		{remote: ":8090", advertise: "[fd00::2]:7946", wantErr: "IPv6"},
		{remote: "nonsense", wantErr: "--remote-addr"},
	} {
		m.Config = DefaultNodeConfig()
		m.Config.RemoteAddr, m.Config.AdvertiseAddr = tc.remote, tc.advertise
		cfg, owner, err := m.clusterConfig()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: err = %v, want %q", tc, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		host, _, _ := net.SplitHostPort(owner)
		if host != tc.wantHost || cfg.AdvertiseRemoteAddr != owner {
			t.Errorf("%+v: owner %q (remote %q), want host %q", tc, owner, cfg.AdvertiseRemoteAddr, tc.wantHost)
		}
	}
	// Bound to all interfaces with no advertise address: an IPv4 address peers can dial.
	m.Config = DefaultNodeConfig()
	_, owner, err := m.clusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(owner)
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		t.Fatalf("default owner %q is not a dialable IPv4 address", owner)
	}
	m.Config.Join = []string{"dns:a:1", "dns:b:2"}
	if _, _, err := m.clusterConfig(); err == nil {
		t.Fatal("two dns: seeds accepted")
	}
	m.Config.Join = nil
	m.Config.GossipKey = "not base64!"
	if _, _, err := m.clusterConfig(); err == nil {
		t.Fatal("bad gossip key accepted")
	}
}

// TestMainOnAllInterfaces boots the node as a cluster member does on its default addresses
// (gossip and remote bound to all interfaces, no advertise address) and books through it: the
// address it picks for itself must be one it can reach.
func TestMainOnAllInterfaces(t *testing.T) {
	m := MustRunMain(t, func(c *NodeConfig) {
		c.GossipAddr, c.RemoteAddr, c.AdvertiseAddr = ":0", ":0", ""
		c.RequestTimeout = 3e9
	})
	ctx := context.Background()
	cl := clustertest.NewClient(5*time.Second, m.DevIssuer())
	cl.MaxRetries = 0
	if err := cl.CreateResource(ctx, m.HTTPURL(), "r1", map[string]int64{"all": 1}, ""); err != nil {
		t.Fatal(err)
	}
	if _, p, err := cl.PlaceHold(ctx, m.HTTPURL(), "r1", "k", "u", []string{"all"}, 1); err != nil || p != nil {
		t.Fatalf("hold: %v %+v", err, p)
	}
}

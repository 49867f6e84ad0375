package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// Network modes.
const (
	NetAuto     = "auto"     // namespaces when possible, else loopback
	NetNetns    = "netns"    // namespaces or fail
	NetLoopback = "loopback" // always loopback (process and database faults only)
)

// Testbed is a cluster of node processes sharing one PostgreSQL, on network namespaces joined
// by a bridge when possible (Net != nil), else on 127.0.0.1.
type Testbed struct {
	Net       *Net // nil in loopback mode
	Mode      string
	DB        *pgtest.Server
	DBURL     string
	Nodes     []*clustertest.Node
	Endpoints []Endpoint
	// KeyFile is the dev signing key the nodes share; Tokens mints the clients' tokens from
	// it (an operator and admin with a second factor).
	KeyFile string
	Tokens  client.TokenSource
	// NATS is the external NATS JetStream cluster the nodes publish their events to
	// (--nats-url, --nats-replicas 3); nil when the testbed runs none.
	NATS *clustertest.NATSCluster
}

// Fixed ports of a node in its own namespace (each node has its own address there).
const (
	nsHTTPPort   = 8080
	nsGossipPort = 7946
	nsRemotePort = 8090
	nsAdminPort  = 9090
)

// StartTestbed starts PostgreSQL and n nodes of the allot binary (clustertest.MustBinary when
// bin is empty) and waits until every node sees all n alive. Everything is stopped and
// removed in t.Cleanup, also when the test fails.
func StartTestbed(t *testing.T, n int, netMode, bin string) *Testbed {
	t.Helper()
	return StartTestbedWithNATS(t, n, netMode, bin, 0)
}

// StartTestbedWithNATS is StartTestbed with a NATS JetStream cluster of natsServers (0: none)
// next to PostgreSQL, which the nodes publish their events to with as many stream replicas
// (at most 3).
func StartTestbedWithNATS(t *testing.T, n int, netMode, bin string, natsServers int) *Testbed {
	t.Helper()
	if bin == "" {
		bin = clustertest.MustBinary(t)
	}
	tb := &Testbed{}
	if netMode != NetLoopback {
		nt, err := SetupNet(n)
		switch {
		case err == nil:
			// Registered first, so it runs last: after the nodes and PostgreSQL are gone.
			t.Cleanup(func() {
				if err := nt.Close(); err != nil {
					t.Errorf("remove network namespaces: %v", err)
				}
			})
			tb.Net = nt
			tb.Mode = nt.String()
		case netMode == NetNetns:
			t.Fatalf("ALLOT_CHAOS_NET=netns: %v", err)
		default:
			tb.Mode = fmt.Sprintf("loopback (fallback: %v)", err)
		}
	} else {
		tb.Mode = "loopback (ALLOT_CHAOS_NET=loopback)"
	}
	if tb.Net != nil {
		tb.DB = pgtest.MustNewServerWith(t, pgtest.Options{ListenAddr: tb.Net.HostIP.String(), TrustCIDR: tb.Net.Subnet.String()})
	} else {
		tb.DB = pgtest.MustNewServer(t)
	}
	tb.DBURL = tb.DB.MustDatabase(t)
	var natsArgs []string
	if natsServers > 0 {
		host := "127.0.0.1"
		if tb.Net != nil {
			host = tb.Net.HostIP.String()
		}
		tb.NATS = clustertest.StartNATSClusterOn(t, natsServers, host)
		natsArgs = []string{"--nats-url", tb.NATS.URL(), "--nats-replicas", strconv.Itoa(min(natsServers, 3))}
	}

	tb.KeyFile = clustertest.KeyFile(t)
	tb.Tokens = clustertest.DevIssuer(t, tb.KeyFile).TokenSource(auth.TokenSpec{
		Subject: "chaos", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true, TTL: 12 * time.Hour})
	opts := make([]clustertest.NodeOptions, n)
	secrets := clustertest.NewPeerSecrets(t) // encrypted gossip and peer mTLS, as in production
	for i := range opts {
		o := clustertest.NodeOptions{Name: fmt.Sprintf("n%d", i+1), DBURL: tb.DBURL, KeyFile: tb.KeyFile, LeaveTimeout: 5 * time.Second, Secrets: secrets,
			ExtraArgs: natsArgs}
		if tb.Net != nil {
			o.Host = tb.Net.Nodes[i].IP.String()
			o.HTTPPort, o.GossipPort, o.RemotePort, o.AdminPort = nsHTTPPort, nsGossipPort, nsRemotePort, nsAdminPort
			o.Wrap = tb.Net.Wrap(i)
		} else {
			o.Host = "127.0.0.1"
			o.HTTPPort = clustertest.FreePort(t, o.Host)
			o.GossipPort = clustertest.FreePort(t, o.Host)
			o.RemotePort = clustertest.FreePort(t, o.Host)
		}
		opts[i] = o
	}
	// Every node knows every other as a seed, so any of them can be restarted alone.
	for i := range opts {
		for j, o := range opts {
			if j != i {
				opts[i].Join = append(opts[i].Join, net.JoinHostPort(o.Host, strconv.Itoa(o.GossipPort)))
			}
		}
	}
	for _, o := range opts {
		node := clustertest.StartNode(t, bin, o)
		tb.Nodes = append(tb.Nodes, node)
		tb.Endpoints = append(tb.Endpoints, Endpoint{Name: node.Name, URL: node.URL()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tb.Converge(ctx, 60*time.Second); err != nil {
		t.Fatalf("cluster of %d did not form: %v", n, err)
	}
	return tb
}

// DBPort is PostgreSQL's TCP port.
func (tb *Testbed) DBPort() int { return tb.DB.Port() }

// Converge waits until every node answers /v1/cluster/members with all nodes alive.
func (tb *Testbed) Converge(ctx context.Context, timeout time.Duration) error {
	c := membersClient(tb.Tokens)
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		last = nil
		for _, node := range tb.Nodes {
			alive, err := aliveSeenBy(ctx, c, node.URL())
			if err == nil && alive != len(tb.Nodes) {
				err = fmt.Errorf("%s sees %d of %d alive", node.Name, alive, len(tb.Nodes))
			}
			if err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 200*time.Millisecond) {
			return last
		}
	}
}

// membersClient is a client for aliveSeenBy: one attempt of at most a second, with the
// testbed's admin tokens (the member list is for admins).
func membersClient(tokens client.TokenSource) *client.Client {
	c, err := client.New([]string{"http://127.0.0.1"}, client.WithHTTPClient(&http.Client{Timeout: time.Second}), client.WithTokenSource(tokens))
	if err != nil {
		panic(err) // a constant base URL
	}
	return c
}

// aliveSeenBy is the number of members the node at base sees alive.
func aliveSeenBy(ctx context.Context, c *client.Client, base string) (int, error) {
	ms, _, err := c.With(client.WithBaseURLs(base)).Members(ctx)
	if err != nil {
		return 0, err
	}
	return clustertest.CountAlive(ms), nil
}

// topologyGrace is how long after healing every node's protoactor topology may take to hold
// every node.
const topologyGrace = 20 * time.Second

// AwaitOneTopology waits up to grace for every node's protoactor topology to hold all nodes.
// It returns the last views read and, if some node's view still differs when grace ends, one
// line per such node with the members its topology holds and the members its gossip sees
// alive (so a split that stays is told apart from a membership that never settled).
func (tb *Testbed) AwaitOneTopology(ctx context.Context, grace time.Duration) (map[string]int, []string) {
	deadline := time.Now().Add(grace)
	for {
		views := tb.TopologyViews(ctx)
		var split []*clustertest.Node
		for _, n := range tb.Nodes {
			if views[n.Name] != len(tb.Nodes) {
				split = append(split, n)
			}
		}
		if len(split) == 0 {
			return views, nil
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 250*time.Millisecond) {
			c := membersClient(tb.Tokens)
			defer c.CloseIdleConnections()
			out := make([]string, 0, len(split))
			for _, n := range split {
				alive, err := aliveSeenBy(ctx, c, n.URL())
				seen := strconv.Itoa(alive)
				if err != nil {
					seen = err.Error()
				}
				out = append(out, fmt.Sprintf("%s: allot_cluster_members %d, alive in gossip %s, of %d",
					n.Name, views[n.Name], seen, len(tb.Nodes)))
			}
			return views, out
		}
	}
}

// TopologyViews returns, per node name, the members of the protoactor topology the node
// applied (its allot_cluster_members gauge; -1 when unreadable). memberlist may see every
// node alive while a topology still excludes a member whose id protoactor blocked.
func (tb *Testbed) TopologyViews(ctx context.Context) map[string]int {
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	out := map[string]int{}
	for _, n := range tb.Nodes {
		out[n.Name] = -1
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.AdminURL()+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "allot_cluster_members "); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					out[n.Name] = int(f)
				}
			}
		}
	}
	return out
}

// CreateResources creates the resources (1h hold TTL, so nothing expires during a run).
func (tb *Testbed) CreateResources(ctx context.Context, specs []*ResourceSpec) error {
	cl := NewClient(tb.Endpoints, 5*time.Second, 30*time.Second, tb.Tokens)
	defer cl.Close()
	rng := rand.New(rand.NewSource(1))
	for _, s := range specs {
		buckets := map[string]int64{}
		for _, b := range s.Buckets {
			buckets[b] = s.Capacity
		}
		a := cl.Do(ctx, rng, http.MethodPost, "/v1/resources", "",
			wire.CreateResource{ID: s.ID, Name: "chaos " + s.ID, Buckets: buckets, HoldTTL: "1h"})
		switch {
		case a.err != nil:
			return fmt.Errorf("create %s: %w", s.ID, a.err)
		case a.status != http.StatusCreated && a.status != http.StatusConflict:
			return fmt.Errorf("create %s: %d %s", s.ID, a.status, a.body)
		}
	}
	return nil
}

// errNotConverged is reported when the cluster stays split after the faults ended.
var errNotConverged = errors.New("cluster did not converge")

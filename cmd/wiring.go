package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"

	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster"
	"github.com/allot/allot/protos"
)

// clusterName separates Allot clusters that could hear each other's gossip.
const clusterName = "allot"

// clusterConfig turns the node flags into the cluster's configuration and the advertised
// remote address. The remote address is resolved here, before the node starts, so that the
// member's address is fixed before any peer learns it.
func (m *Main) clusterConfig() (cluster.NodeConfig, string, error) {
	c := m.Config
	cfg := cluster.DefaultNodeConfig()
	cfg.ClusterName = clusterName
	cfg.RequestTimeout = c.RequestTimeout
	cfg.Registerer = m.registry
	cfg.Logger = m.Logger // the cluster labels its records component=cluster and component=gossip

	advHost, advPort, err := splitAdvertise(c.advertiseAddr())
	if err != nil {
		return cfg, "", err
	}
	bindHost, bindPort, err := net.SplitHostPort(c.remoteAddr())
	if err != nil {
		return cfg, "", fmt.Errorf("--remote-addr: %w", err)
	}
	if bindPort == "0" {
		// Reserve a port now so that the advertised address (and every reply's owner) is
		// known before the node starts.
		l, err := net.Listen("tcp", net.JoinHostPort(bindHost, "0"))
		if err != nil {
			return cfg, "", fmt.Errorf("--remote-addr: %w", err)
		}
		bindPort = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	if advHost == "" {
		advHost = bindHost
	}
	if ip := net.ParseIP(advHost); advHost == "" || (ip != nil && ip.IsUnspecified()) {
		advHost = defaultAdvertiseHost()
	}
	if ip := net.ParseIP(advHost); ip != nil && ip.To4() == nil {
		// protoactor formats member addresses as host:port without brackets, so an IPv6
		// member cannot be dialled (not even by itself).
		return cfg, "", fmt.Errorf("advertise address %s: IPv6 is not supported between nodes; give an IPv4 --advertise-addr", advHost)
	}
	cfg.RemoteAddr = net.JoinHostPort(bindHost, bindPort)
	cfg.AdvertiseRemoteAddr = net.JoinHostPort(advHost, bindPort)

	g := cluster.DefaultProviderConfig()
	g.BindAddr = c.gossipAddr()
	g.Bootstrap, g.BootstrapAfter = c.Bootstrap, c.BootstrapAfter
	// Gossip and remote advertise the same host, so that a member's gossip metadata and its
	// actor addresses agree. Port "0" means the bound gossip port.
	g.AdvertiseAddr = net.JoinHostPort(advHost, advPort)
	for _, j := range c.Join {
		if name, ok := strings.CutPrefix(j, "dns:"); ok {
			if g.JoinDNS != "" {
				return cfg, "", errors.New("--join: at most one dns: seed")
			}
			g.JoinDNS = name
			continue
		}
		g.Join = append(g.Join, j)
	}
	cfg.Gossip = g
	// Gossip encryption and peer mTLS, and the rule for cluster members without them.
	if err := m.peerSecurity(&cfg, []string{hostOf(g.BindAddr), bindHost, advHost}); err != nil {
		return cfg, "", err
	}
	return cfg, cfg.AdvertiseRemoteAddr, nil
}

// defaultAdvertiseHost picks the address peers reach this node at when it binds to all
// interfaces and none was given: a private IPv4 address, else the first IPv4 address of an
// interface that is up and not loopback, else 127.0.0.1 (a single node). IPv4 is preferred
// because protoactor formats member addresses as host:port without IPv6 brackets.
func defaultAdvertiseHost() string {
	if ip, err := sockaddr.GetPrivateIP(); err == nil && net.ParseIP(ip).To4() != nil {
		return ip
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// splitAdvertise accepts "host" or "host:port"; the port is for gossip ("0" when absent).
func splitAdvertise(s string) (host, port string, err error) {
	if s == "" {
		return "", "0", nil
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p, nil
	}
	if strings.Count(s, ":") == 1 {
		return "", "", fmt.Errorf("--advertise-addr %q: want host or host:port", s)
	}
	return strings.Trim(s, "[]"), "0", nil
}

// dispatcher sends the edge's commands through the cluster to the resource's owner.
type dispatcher struct{ node *cluster.Node }

func (d dispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	return d.reply(d.node.Request(ctx, cmd.ResourceId, resource.KindName, cmd))
}

// DispatchWithin is Dispatch bounded by timeout instead of by ctx's deadline: the edge's hold
// path uses it to spare a context.WithTimeout per request (api's timedDispatcher).
func (d dispatcher) DispatchWithin(ctx context.Context, timeout time.Duration, cmd *protos.Command) (*protos.Reply, error) {
	return d.reply(d.node.RequestWithin(ctx, timeout, cmd.ResourceId, resource.KindName, cmd))
}

func (dispatcher) reply(res any, err error) (*protos.Reply, error) {
	if err != nil {
		return nil, err
	}
	reply, ok := res.(*protos.Reply)
	if !ok {
		return nil, fmt.Errorf("dispatch: unexpected answer %T", res)
	}
	return reply, nil
}

// members adapts the cluster's member list to the API's.
type members struct{ node *cluster.Node }

func (m members) Members() []wire.Member {
	var out []wire.Member
	for _, mi := range m.node.Members() {
		if mi.Client {
			continue
		}
		out = append(out, wire.Member{ID: mi.ID, Address: mi.RemoteAddr, Status: string(mi.Status), Self: mi.Self, Activations: mi.Activations})
	}
	return out
}

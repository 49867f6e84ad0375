package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names of everything a Net creates start with these prefixes followed by the pid of the test
// binary, so that leftovers of a crashed run are recognised (and only ours are touched).
const (
	nsPrefix   = "allotchaos-" // network namespaces: allotchaos-<pid>-n<i>
	linkPrefix = "alc"         // bridge alc<pid>b, host-side veths alc<pid>v<i>
	chainName  = "ALLOTCHAOS"  // iptables chain inside each namespace
	nodeIface  = "eth0"        // the veth end inside a namespace
)

// ErrNoNetns means network namespaces cannot be used here; the harness falls back to
// loopback with process faults only.
var ErrNoNetns = errors.New("network namespaces unavailable")

// Net is a private /24 behind a bridge in the root namespace, with one network namespace per
// node joined to it by a veth pair. The test process (clients, audit) and PostgreSQL stay in
// the root namespace and reach the nodes through the bridge address HostIP, so a fault
// applied inside a node's namespace (iptables, tc) only changes that node's packets.
//
// All methods are safe for concurrent use.
type Net struct {
	Bridge string
	Subnet netip.Prefix
	HostIP netip.Addr
	Nodes  []NetNode

	// IPTables is the iptables program that works inside the namespaces ("" when none
	// does: no partitions then), IPTablesVersion what it reports about itself.
	IPTables        string
	IPTablesVersion string
	// Netem reports whether tc's netem qdisc works (the sch_netem module may be missing);
	// NetemNote says why not.
	Netem     bool
	NetemNote string

	pid    int
	mu     sync.Mutex
	closed bool
}

// NetNode is one node's namespace.
type NetNode struct {
	NS   string     // namespace name
	Veth string     // host-side end of its veth pair, enslaved to the bridge
	IP   netip.Addr // its address on the bridge
}

// SetupNet creates the bridge and n namespaces. Names derive from the pid, so a process has
// one Net at a time (a second SetupNet fails until the first is closed). On any error
// everything created so far is removed again. Leftovers of earlier runs whose test binary is gone are removed first.
func SetupNet(n int) (*Net, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root", ErrNoNetns)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: no ip command (iproute2)", ErrNoNetns)
	}
	RemoveLeftovers()
	pid := os.Getpid()
	subnet, err := freeSubnet()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNetns, err)
	}
	nt := &Net{
		Bridge: fmt.Sprintf("%s%db", linkPrefix, pid),
		Subnet: subnet,
		HostIP: subnet.Addr().Next(),
		pid:    pid,
	}
	if err := nt.create(n); err != nil {
		_ = nt.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoNetns, err)
	}
	nt.detectIPTables()
	nt.detectNetem()
	return nt, nil
}

func (nt *Net) create(n int) error {
	hostCIDR := fmt.Sprintf("%s/%d", nt.HostIP, nt.Subnet.Bits())
	if _, err := run("ip", "link", "add", nt.Bridge, "type", "bridge"); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"addr", "add", hostCIDR, "dev", nt.Bridge},
		{"link", "set", nt.Bridge, "up"},
	} {
		if _, err := run("ip", args...); err != nil {
			return err
		}
	}
	ip := nt.HostIP
	for i := 0; i < n; i++ {
		ip = nodeAddr(nt.Subnet, i)
		nn := NetNode{
			NS:   fmt.Sprintf("%s%d-n%d", nsPrefix, nt.pid, i+1),
			Veth: fmt.Sprintf("%s%dv%d", linkPrefix, nt.pid, i+1),
			IP:   ip,
		}
		peer := nn.Veth + "p"
		nt.mu.Lock()
		nt.Nodes = append(nt.Nodes, nn)
		nt.mu.Unlock()
		steps := [][]string{
			{"netns", "add", nn.NS},
			{"link", "add", nn.Veth, "type", "veth", "peer", "name", peer, "netns", nn.NS},
			{"link", "set", nn.Veth, "master", nt.Bridge},
			{"link", "set", nn.Veth, "up"},
			{"-n", nn.NS, "link", "set", peer, "name", nodeIface},
			{"-n", nn.NS, "addr", "add", fmt.Sprintf("%s/%d", ip, nt.Subnet.Bits()), "dev", nodeIface},
			{"-n", nn.NS, "link", "set", nodeIface, "up"},
			{"-n", nn.NS, "link", "set", "lo", "up"},
		}
		for _, args := range steps {
			if _, err := run("ip", args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// nodeAddr is node i's address: .11, .12, ...
func nodeAddr(subnet netip.Prefix, i int) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = byte(11 + i)
	return netip.AddrFrom4(a)
}

// Wrap returns the command-line wrapper that runs node i's process in its namespace.
func (nt *Net) Wrap(i int) func(argv []string) []string {
	ns := nt.Nodes[i].NS
	return func(argv []string) []string {
		return append([]string{"ip", "netns", "exec", ns}, argv...)
	}
}

// Close kills what still runs in the namespaces, deletes them (which removes their veth
// pairs) and the bridge. Safe twice; errors are collected, not fatal.
func (nt *Net) Close() error {
	nt.mu.Lock()
	if nt.closed {
		nt.mu.Unlock()
		return nil
	}
	nt.closed = true
	nodes := append([]NetNode(nil), nt.Nodes...)
	nt.mu.Unlock()
	var errs []error
	for _, nn := range nodes {
		killNamespace(nn.NS)
		if _, err := run("ip", "netns", "del", nn.NS); err != nil && namespaceExists(nn.NS) {
			errs = append(errs, err)
		}
	}
	// The kernel destroys a deleted namespace, and with it both ends of its veth pair,
	// asynchronously: wait for that, then delete what is left.
	deadline := time.Now().Add(5 * time.Second)
	for _, nn := range nodes {
		for linkExists(nn.Veth) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if err := deleteLink(nn.Veth); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteLink(nt.Bridge); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteLink deletes a link if it exists; one that vanished meanwhile is not an error.
func deleteLink(name string) error {
	if !linkExists(name) {
		return nil
	}
	if _, err := run("ip", "link", "del", name); err != nil && linkExists(name) {
		return err
	}
	return nil
}

// String describes the network for logs and reports.
func (nt *Net) String() string {
	fw := "no working iptables (no partitions or loss)"
	if nt.IPTables != "" {
		fw = nt.IPTablesVersion
	}
	netem := "netem available"
	if !nt.Netem {
		netem = "netem unavailable: " + nt.NetemNote
	}
	return fmt.Sprintf("network namespaces %s%d-n1..n%d on bridge %s %s (host %s); %s; %s",
		nsPrefix, nt.pid, len(nt.Nodes), nt.Bridge, nt.Subnet, nt.HostIP, fw, netem)
}

// freeSubnet picks 10.213.X.0/24 that overlaps no route and no address of this host, starting
// from an X derived from the pid so that concurrent runs tend to pick different ones.
func freeSubnet() (netip.Prefix, error) {
	used, err := usedPrefixes()
	if err != nil {
		return netip.Prefix{}, err
	}
	start := os.Getpid() % 200
	for k := 0; k < 250; k++ {
		x := 2 + (start+k)%250
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(x), 0}), 24)
		if !overlapsAny(cand, used) {
			return cand, nil
		}
	}
	return netip.Prefix{}, errors.New("no free 10.213.x.0/24")
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Bits() == 0 {
			continue // a default route overlaps everything and says nothing
		}
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// usedPrefixes lists the destinations of every IPv4 route (all tables) and every IPv4
// address of the host.
func usedPrefixes() ([]netip.Prefix, error) {
	out, err := run("ip", "-4", "-o", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	var used []netip.Prefix
	routeTypes := map[string]bool{"local": true, "broadcast": true, "unicast": true, "unreachable": true,
		"blackhole": true, "prohibit": true, "throw": true, "anycast": true, "multicast": true, "nat": true}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if routeTypes[dst] && len(f) > 1 {
			dst = f[1]
		}
		if p, ok := parsePrefix(dst); ok {
			used = append(used, p)
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if p, ok := parsePrefix(a.String()); ok && p.Addr().Is4() {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// RemoveLeftovers deletes the namespaces and links of earlier runs whose test binary is no
// longer alive, killing what still runs inside them first. Best effort.
func RemoveLeftovers() {
	if os.Geteuid() != 0 {
		return
	}
	out, err := run("ip", "netns", "list")
	if err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
				continue
			}
			rest := strings.TrimPrefix(f[0], nsPrefix)
			pid, _ := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
			if pid > 0 && !processAlive(pid) {
				killNamespace(f[0])
				_, _ = run("ip", "netns", "del", f[0])
			}
		}
	}
	out, err = run("ip", "-o", "link", "show")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]
		if !strings.HasPrefix(name, linkPrefix) {
			continue
		}
		rest := strings.TrimPrefix(name, linkPrefix)
		suffix := strings.TrimLeft(rest, "0123456789") // "b" (bridge) or "v<i>" (veth)
		pid, _ := strconv.Atoi(strings.TrimSuffix(rest, suffix))
		if pid > 0 && !processAlive(pid) && (strings.HasPrefix(suffix, "b") || strings.HasPrefix(suffix, "v")) {
			_ = deleteLink(name)
		}
	}
}

// killNamespace SIGKILLs every process in the namespace.
func killNamespace(ns string) {
	out, err := run("ip", "netns", "pids", ns)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
}

func namespaceExists(ns string) bool {
	_, err := os.Stat("/run/netns/" + ns)
	return err == nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// run executes a command with a bounded time and returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// inNS runs a command inside namespace ns.
func inNS(ns, name string, args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

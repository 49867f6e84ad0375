package chaos

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Packet faults are rules in one chain, ALLOTCHAOS, in each node's namespace, jumped to from
// INPUT and OUTPUT: a rule matching -s peer drops what the node receives from peer, one
// matching -d peer what it sends there. Healing flushes the chain. tc qdiscs go on the node's
// eth0 (egress).

// detectIPTables picks the first iptables program that can create the chain, hook it and use
// the statistic match inside the first namespace, and installs the chain in every namespace.
func (nt *Net) detectIPTables() {
	if len(nt.Nodes) == 0 {
		return
	}
	for _, prog := range []string{"iptables", "iptables-nft", "iptables-legacy"} {
		if err := nt.installChain(nt.Nodes[0].NS, prog); err != nil {
			continue
		}
		ok := true
		for _, nn := range nt.Nodes[1:] {
			if err := nt.installChain(nn.NS, prog); err != nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		nt.IPTables = prog
		v, _ := run(prog, "--version")
		nt.IPTablesVersion = strings.TrimSpace(v)
		return
	}
}

func (nt *Net) installChain(ns, prog string) error {
	for _, args := range [][]string{
		{"-w", "-N", chainName},
		{"-w", "-I", "INPUT", "-j", chainName},
		{"-w", "-I", "OUTPUT", "-j", chainName},
		// The loss fault needs the statistic match; try it once.
		{"-w", "-A", chainName, "-m", "statistic", "--mode", "random", "--probability", "0.5", "-j", "RETURN"},
		{"-w", "-F", chainName},
	} {
		if _, err := inNS(ns, prog, args...); err != nil {
			return err
		}
	}
	return nil
}

// detectNetem adds and removes a netem qdisc on the first node's interface.
func (nt *Net) detectNetem() {
	if len(nt.Nodes) == 0 {
		return
	}
	ns := nt.Nodes[0].NS
	out, err := inNS(ns, "tc", "qdisc", "add", "dev", nodeIface, "root", "netem", "delay", "1ms")
	if err != nil {
		nt.NetemNote = "tc qdisc netem: " + strings.TrimSpace(out)
		if strings.Contains(out, "unknown") {
			nt.NetemNote += " (the sch_netem kernel module is missing)"
		}
		return
	}
	_, _ = inNS(ns, "tc", "qdisc", "del", "dev", nodeIface, "root")
	nt.Netem = true
}

// Direction of a packet rule, seen from the node that carries it.
type Direction int

const (
	Both     Direction = iota
	Incoming           // drop what the node receives from the peers
	Outgoing           // drop what the node sends to the peers
)

// Block drops node i's traffic with the given peers.
func (nt *Net) Block(i int, peers []netip.Addr, dir Direction) error {
	for _, p := range peers {
		if dir == Both || dir == Incoming {
			if err := nt.ipt(i, "-A", chainName, "-s", p.String(), "-j", "DROP"); err != nil {
				return err
			}
		}
		if dir == Both || dir == Outgoing {
			if err := nt.ipt(i, "-A", chainName, "-d", p.String(), "-j", "DROP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// BlockPort drops node i's TCP traffic with HostIP:port (PostgreSQL) both ways.
func (nt *Net) BlockPort(i, port int) error {
	p := strconv.Itoa(port)
	if err := nt.ipt(i, "-A", chainName, "-p", "tcp", "-d", nt.HostIP.String(), "--dport", p, "-j", "DROP"); err != nil {
		return err
	}
	return nt.ipt(i, "-A", chainName, "-p", "tcp", "-s", nt.HostIP.String(), "--sport", p, "-j", "DROP")
}

// Lossy drops each packet node i sends or receives with probability prob.
func (nt *Net) Lossy(i int, prob float64) error {
	return nt.ipt(i, "-A", chainName, "-m", "statistic", "--mode", "random",
		"--probability", strconv.FormatFloat(prob, 'f', 3, 64), "-j", "DROP")
}

// Netem puts a netem qdisc with the given parameters (e.g. "delay 50ms 20ms loss 2%") on node
// i's interface.
func (nt *Net) NetemOn(i int, params string) error {
	args := append([]string{"qdisc", "replace", "dev", nodeIface, "root", "netem"}, strings.Fields(params)...)
	_, err := inNS(nt.Nodes[i].NS, "tc", args...)
	return err
}

// Heal removes every packet fault of node i.
func (nt *Net) Heal(i int) error {
	var err error
	if nt.IPTables != "" {
		err = nt.ipt(i, "-F", chainName)
	}
	if nt.Netem {
		// Fails harmlessly when no qdisc was added.
		_, _ = inNS(nt.Nodes[i].NS, "tc", "qdisc", "del", "dev", nodeIface, "root")
	}
	return err
}

// HealAll heals every node and returns the first error.
func (nt *Net) HealAll() error {
	var first error
	for i := range nt.Nodes {
		if err := nt.Heal(i); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// PeersOf returns the addresses of every node but i.
func (nt *Net) PeersOf(i int) []netip.Addr {
	var out []netip.Addr
	for j, nn := range nt.Nodes {
		if j != i {
			out = append(out, nn.IP)
		}
	}
	return out
}

// Rules lists node i's fault rules (for reports).
func (nt *Net) Rules(i int) string {
	if nt.IPTables == "" {
		return ""
	}
	out, _ := inNS(nt.Nodes[i].NS, nt.IPTables, "-w", "-S", chainName)
	return strings.TrimSpace(out)
}

func (nt *Net) ipt(i int, args ...string) error {
	if nt.IPTables == "" {
		return fmt.Errorf("no working iptables in the namespaces")
	}
	_, err := inNS(nt.Nodes[i].NS, nt.IPTables, append([]string{"-w"}, args...)...)
	return err
}

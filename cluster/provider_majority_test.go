package cluster

import (
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/hashicorp/memberlist"
)

// A member counts alive members against every member it knows that did not leave (round 18):
// cut off from its peers it is in a minority as soon as it suspects them, a tie is a
// majority, a member that left gracefully or a client does not count, and a dead member
// restarted on the same address under a new name counts once.
func TestProviderInMajority(t *testing.T) {
	p, err := NewProvider(DefaultProviderConfig())
	if err != nil {
		t.Fatal(err)
	}
	p.name = "self"
	node := func(name string, port int, meta nodeMeta) *memberlist.Node {
		meta.ID = name
		meta.RemoteAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1000))
		return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: uint16(port), Meta: meta.encode()}
	}
	self, a, b := node("self", 7000, nodeMeta{}), node("peer-a", 7001, nodeMeta{}), node("peer-b", 7002, nodeMeta{})
	for _, n := range []*memberlist.Node{self, a, b} {
		p.upsert(n)
	}
	p.upsert(node("client-c", 7003, nodeMeta{Client: true}))
	if !p.inMajority() {
		t.Fatal("3 of 3 alive: not a majority")
	}
	p.markSuspect("peer-a")
	if !p.inMajority() {
		t.Fatal("2 of 3 alive, one suspect: not a majority")
	}
	p.markSuspect("peer-b")
	if p.inMajority() {
		t.Fatal("1 of 3 alive, two suspect (cut off): a majority")
	}
	mlEvents{p}.NotifyLeave(a)
	mlEvents{p}.NotifyLeave(b)
	if p.inMajority() {
		t.Fatal("1 of 3 alive, two dead: a majority")
	}
	if got := p.deadGossipAddrs(); !slices.Equal(got, []string{"127.0.0.1:7001", "127.0.0.1:7002"}) {
		t.Fatalf("dead gossip addresses: %v", got)
	}
	p.upsert(node("peer-a2", 7001, nodeMeta{})) // peer-a restarted on its address
	if !p.inMajority() {
		t.Fatal("2 alive, peer-a's old name replaced, peer-b dead: a tie is a majority")
	}
	if got := p.deadGossipAddrs(); !slices.Equal(got, []string{"127.0.0.1:7002"}) {
		t.Fatalf("dead gossip addresses after peer-a's restart: %v", got)
	}
	leaver := node("peer-d", 7004, nodeMeta{Leaving: true})
	p.upsert(leaver)
	mlEvents{p}.NotifyLeave(leaver)
	if !p.inMajority() {
		t.Fatal("a member that left counts against the majority")
	}
}

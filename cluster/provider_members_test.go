package cluster

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestProviderSuspectStatus(t *testing.T) {
	p, err := NewProvider(DefaultProviderConfig())
	if err != nil {
		t.Fatal(err)
	}
	node := &memberlist.Node{Name: "peer", Addr: net.IPv4(127, 0, 0, 1), Port: 7946,
		Meta: nodeMeta{ID: "peer", RemoteAddr: "127.0.0.1:8090", Kinds: []string{"echo"}}.encode()}
	p.upsert(node)
	status := func() MemberStatus { return p.Members()[0].Status }
	p.markSuspect("peer")
	if got := status(); got != StatusSuspect {
		t.Fatalf("after failed probe: %q", got)
	}
	p.markAcked("peer")
	if got := status(); got != StatusAlive {
		t.Fatalf("after ack: %q", got)
	}
	p.markSuspect("peer")
	mlEvents{p}.NotifyLeave(node)
	if got := status(); got != StatusDead {
		t.Fatalf("after failure: %q", got)
	}
	p.markAcked("peer") // a late ack does not resurrect a dead member
	if got := status(); got != StatusDead {
		t.Fatalf("after late ack: %q", got)
	}
	// A member that announced its leave is reported as left.
	leaver := &memberlist.Node{Name: "leaver", Addr: net.IPv4(127, 0, 0, 1), Port: 7947,
		Meta: nodeMeta{ID: "leaver", RemoteAddr: "127.0.0.1:8091", Leaving: true}.encode()}
	p.upsert(leaver)
	mlEvents{p}.NotifyLeave(leaver)
	if got := p.Members()[0]; got.ID != "leaver" || got.Status != StatusLeft {
		t.Fatalf("leaver: %+v", got)
	}
	if ms, _ := p.topologyMembers(); len(ms) != 0 {
		t.Fatalf("dead member in topology: %v", ms)
	}
	// Departed members are forgotten after the retention period.
	now := time.Now()
	p.now = func() time.Time { return now.Add(2 * time.Minute) }
	p.pruneDeparted()
	if ms := p.Members(); len(ms) != 0 {
		t.Fatalf("after retention: %+v", ms)
	}
}

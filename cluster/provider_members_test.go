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

// A member declared dead that comes back alive (it refuted the suspicion: a pause, a healed
// partition) gets a new topology id, since protoactor blocked the old one for good; its
// member id, and so its remote's system id, stay what they are (finding 2).
func TestProviderReadmitsAMemberDeclaredDead(t *testing.T) {
	p, err := NewProvider(DefaultProviderConfig())
	if err != nil {
		t.Fatal(err)
	}
	node := &memberlist.Node{Name: "peer", Addr: net.IPv4(127, 0, 0, 1), Port: 7946,
		Meta: nodeMeta{ID: "peer", RemoteAddr: "127.0.0.1:8090", Kinds: []string{"echo"}}.encode()}
	ids := func() []string {
		ms, _ := p.topologyMembers()
		var out []string
		for _, m := range ms {
			out = append(out, m.Id)
		}
		return out
	}
	p.upsert(node)
	first := ids()
	mlEvents{p}.NotifyLeave(node)
	if got := ids(); len(got) != 0 {
		t.Fatalf("dead member in topology: %v", got)
	}
	p.upsert(node) // alive again
	second := ids()
	if len(first) != 1 || len(second) != 1 || first[0] == second[0] {
		t.Fatalf("topology ids before and after the false death: %v, %v; want one each, different", first, second)
	}
	if memberIDOf(first[0]) != "peer" || memberIDOf(second[0]) != "peer" || first[0] == "peer" {
		t.Fatalf("topology ids %v, %v must carry the member id and a generation", first, second)
	}
	if got := p.Members()[0]; got.ID != "peer" || got.Status != StatusAlive {
		t.Fatalf("member after coming back: %+v", got)
	}
	p.markSuspect("peer") // suspicion alone keeps the id: the member is still in the topology
	if got := ids(); len(got) != 1 || got[0] != second[0] {
		t.Fatalf("suspect member's topology id %v, want %v", got, second)
	}
}

// A member dead for longer than DeadMemberRetention is pruned from the table; when it comes
// back (a partition longer than that) it must still get a topology id protoactor has not
// blocked.
func TestProviderReadmitsAMemberPrunedWhileDead(t *testing.T) {
	cfg := DefaultProviderConfig()
	p, err := NewProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	p.now = func() time.Time { return now }
	node := &memberlist.Node{Name: "peer", Addr: net.IPv4(127, 0, 0, 1), Port: 7946,
		Meta: nodeMeta{ID: "peer", RemoteAddr: "127.0.0.1:8090", Kinds: []string{"echo"}}.encode()}
	id := func() string {
		ms, _ := p.topologyMembers()
		if len(ms) != 1 {
			t.Fatalf("topology %v, want the one peer", ms)
		}
		return ms[0].Id
	}
	p.upsert(node)
	blocked := id()
	mlEvents{p}.NotifyLeave(node)
	now = now.Add(cfg.DeadMemberRetention + time.Second)
	p.pruneDeparted()
	if len(p.Members()) != 0 {
		t.Fatalf("dead member kept past retention: %+v", p.Members())
	}
	p.upsert(node) // the partition healed
	if got := id(); got == blocked {
		t.Fatalf("member back after pruning has its blocked topology id %q again", got)
	}
}

package cluster

// Multi-member tests; every member is a child process (see node_proc_test.go).

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClusterSpreadsIdentitiesAndRebalancesOnJoin(t *testing.T) {
	start := time.Now()
	seed := MustProcNodes(t, 1)[0]
	nodes := append([]*procNode{seed}, MustProcNodes(t, 2, seed.self.GossipAddr)...)
	waitProcTopology(t, 10*time.Second, nodes, nodes)
	t.Logf("3 members started and converged in %v", time.Since(start))

	for _, n := range nodes {
		ms := n.members()
		if len(ms) != 3 {
			t.Fatalf("%s: %d members, want 3: %+v", n.addr(), len(ms), ms)
		}
		for _, m := range ms {
			if m.Status != StatusAlive || !slices.Contains(m.Kinds, echoKindName) || m.GossipAddr == "" || m.Self != (m.ID == n.self.ID) {
				t.Fatalf("%s: bad member %+v", n.addr(), m)
			}
		}
	}

	ids := identities(200)
	served := requestVia(t, ids, nodes)
	t.Logf("served per member: %v", served)
	for _, n := range nodes {
		if got := served[n.addr()]; got < 20 {
			t.Errorf("%s served %d of 200 identities, want a fair share", n.addr(), got)
		}
	}
	// The same identities through other members reach the same activations.
	if again := requestVia(t, ids, append(slices.Clone(nodes[1:]), nodes[0])); !mapsEqual(served, again) {
		t.Fatalf("second pass served %v, first %v", again, served)
	}
	for _, n := range nodes {
		if got := n.selfInfo().Activations; got != served[n.addr()] {
			t.Errorf("%s hosts %d activations, served %d identities", n.addr(), got, served[n.addr()])
		}
	}
	// Every member learns the others' activation counts through gossip.
	waitFor(t, 5*time.Second, func() (bool, string) {
		for _, n := range nodes {
			for _, m := range n.members() {
				if want := served[m.RemoteAddr]; m.Activations != want {
					return false, fmt.Sprintf("%s reports %s with %d activations, want %d", n.addr(), m.RemoteAddr, m.Activations, want)
				}
			}
		}
		return true, ""
	})
	for _, n := range nodes {
		m := n.metrics()
		if m["allot_cluster_members"] != 3 || m["allot_cluster_activations"] != float64(served[n.addr()]) ||
			m["allot_cluster_forwarded_requests_total"] == 0 || m["allot_cluster_forward_seconds"] == 0 {
			t.Errorf("%s metrics: %v", n.addr(), m)
		}
	}

	// A fourth member joins and takes over part of the identities.
	joined := time.Now()
	fourth := MustProcNodes(t, 1, seed.self.GossipAddr)[0]
	all := append(slices.Clone(nodes), fourth)
	waitProcTopology(t, 10*time.Second, all, all)
	t.Logf("4th member started and converged in %v", time.Since(joined))
	after := requestVia(t, ids, all)
	t.Logf("served per member after the join: %v", after)
	if after[fourth.addr()] == 0 {
		t.Fatalf("joining member serves no identity: %v", after)
	}
	for addr, n := range after {
		if addr != fourth.addr() && n > served[addr] {
			t.Errorf("%s serves more identities after a join (%d > %d)", addr, n, served[addr])
		}
	}
	// Moved activations are stopped on their old owners.
	waitFor(t, 5*time.Second, func() (bool, string) {
		sum := 0
		for _, n := range all {
			sum += n.selfInfo().Activations
		}
		return sum == len(ids), fmt.Sprintf("%d activations in the cluster, want %d", sum, len(ids))
	})
}

func TestClusterGracefulStopRehomesIdentities(t *testing.T) {
	seed := MustProcNodes(t, 1)[0]
	nodes := append([]*procNode{seed}, MustProcNodes(t, 2, seed.self.GossipAddr)...)
	waitProcTopology(t, 10*time.Second, nodes, nodes)
	ids := identities(100)
	served := requestVia(t, ids, nodes)
	leaving, survivors := nodes[2], nodes[:2]
	if served[leaving.addr()] == 0 {
		t.Fatalf("leaving member served nothing: %v", served)
	}

	start := time.Now()
	r := leaving.call(childCmd{Op: "stop", TimeoutMS: 15000})
	if r.Err != "" {
		t.Fatalf("stop: %s", r.Err)
	}
	t.Logf("graceful Stop took %dms", r.TookMS)
	if r.Self.Activations != 0 {
		t.Errorf("stopped member still hosts %d activations", r.Self.Activations)
	}
	waitProcTopology(t, 5*time.Second, survivors, survivors)
	t.Logf("left member out of the survivors' topology %v after Stop began", time.Since(start))
	for _, n := range survivors {
		if m := n.memberByAddr(leaving.addr()); m.Status != StatusLeft {
			t.Errorf("%s sees the leaving member as %q, want %q", n.addr(), m.Status, StatusLeft)
		}
	}
	after := requestVia(t, ids, survivors)
	if after[leaving.addr()] != 0 || after[survivors[0].addr()]+after[survivors[1].addr()] != len(ids) {
		t.Fatalf("after the leave: served %v", after)
	}
	if r := leaving.call(childCmd{Op: "stop", TimeoutMS: 1000}); r.Err != "" {
		t.Fatalf("second stop: %s", r.Err)
	}
	if r := leaving.call(childCmd{Op: "request", IDs: ids[:1], Value: "who", TimeoutMS: 1000}); !strings.Contains(r.Results[0].Err, ErrUnavailable.Error()) {
		t.Fatalf("request through a stopped member: %+v", r.Results[0])
	}
}

func TestClusterCrashIsDetectedAndIdentitiesFailOver(t *testing.T) {
	seed := MustProcNodes(t, 1)[0]
	nodes := append([]*procNode{seed}, MustProcNodes(t, 2, seed.self.GossipAddr)...)
	waitProcTopology(t, 10*time.Second, nodes, nodes)
	ids := identities(100)
	served := requestVia(t, ids, nodes)
	victim, survivors := nodes[2], nodes[:2]
	if served[victim.addr()] == 0 {
		t.Fatalf("victim served nothing: %v", served)
	}

	start := time.Now()
	victim.kill()
	waitProcTopology(t, 10*time.Second, survivors, survivors)
	detected := time.Since(start)
	t.Logf("crash detected and topology updated after %v", detected)
	if detected > 8*time.Second {
		t.Errorf("failure detection took %v, want a few seconds", detected)
	}
	for _, n := range survivors {
		if m := n.memberByAddr(victim.addr()); m.Status != StatusDead {
			t.Errorf("%s sees the crashed member as %q, want %q", n.addr(), m.Status, StatusDead)
		}
	}
	after := requestVia(t, ids, survivors)
	t.Logf("served after failover: %v", after)
	if after[victim.addr()] != 0 {
		t.Fatalf("crashed member still serves: %v", after)
	}
}

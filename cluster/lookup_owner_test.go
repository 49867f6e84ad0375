package cluster

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/cluster"
)

// TestOwnerAgreesWithRendezvous: the owner of an identity is the rendezvous hash's pick
// (what disthash's placement actors use), also where a kind's one host is answered
// without asking the hash.
func TestOwnerAgreesWithRendezvous(t *testing.T) {
	m := func(id string, port int, kinds ...string) *cluster.Member {
		return &cluster.Member{Id: id, Host: "127.0.0.1", Port: int32(port), Kinds: kinds}
	}
	for _, members := range [][]*cluster.Member{
		nil,
		{m("a", 1, "resource")},
		{m("a", 1, "resource", "resource"), m("b", 2, "other")},
		{m("a", 1, "resource"), m("b", 2, "resource", "other"), m("c", 3, "resource")},
		{m("a", 1, "resource"), m("a", 2, "other")}, // one id twice
	} {
		v := newTopologyView(members)
		rdv := cluster.NewRendezvous()
		rdv.UpdateMembers(v.members)
		for _, kind := range []string{"resource", "other", "missing"} {
			for i := range 50 {
				ci := cluster.NewClusterIdentity(fmt.Sprintf("r-%d", i), kind)
				if got, want := v.owner(ci), rdv.GetByClusterIdentity(ci); got != want {
					t.Fatalf("%d members, %s: owner %q, rendezvous %q", len(members), ci.AsKey(), got, want)
				}
			}
		}
	}
	if v := newTopologyView([]*cluster.Member{m("a", 1, "resource"), m("b", 2, "other")}); v.sole["resource"] != "127.0.0.1:1" {
		t.Fatalf("sole hosts %v", v.sole)
	}
}

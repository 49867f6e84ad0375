package cluster

import (
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// TestReplyIDUniqueAndApart: reply process ids are unique, drawn from the registry's sequence
// (so NextId never repeats one of their numbers either), and never take the shape of the
// ids NextId or protoactor's futures make.
func TestReplyIDUniqueAndApart(t *testing.T) {
	system := actor.NewActorSystem()
	reg := system.ProcessRegistry
	seen := map[string]bool{}
	for i := range 2000 {
		var id string
		if i%3 == 0 {
			id = reg.NextId()
			if strings.HasPrefix(id, "reply$") {
				t.Fatalf("NextId made %q", id)
			}
		} else {
			id = replyID(reg)
			if !strings.HasPrefix(id, "reply$") || strings.HasPrefix(id, "future") {
				t.Fatalf("replyID made %q", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}

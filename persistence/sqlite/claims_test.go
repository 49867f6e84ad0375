package sqlite

import (
	"fmt"
	"testing"

	"github.com/allot/allot/persistence"
)

// TestOutboxClaimsLetGoOfAnEmptyMap: the claims' map is dropped once its last claim is
// released or expires (a map keeps the tables it grew to), and claims work again after.
func TestOutboxClaimsLetGoOfAnEmptyMap(t *testing.T) {
	var c outboxClaims
	keys := make([]persistence.EventKey, 2000)
	c.until = map[persistence.EventKey]int64{}
	for i := range keys {
		keys[i] = persistence.EventKey{ResourceID: fmt.Sprint("r", i), Version: 1}
		c.until[keys[i]] = 1
	}
	c.release(keys[:1000])
	if len(c.until) != 1000 {
		t.Fatalf("%d claims left, want 1000", len(c.until))
	}
	c.release(keys[1000:])
	if c.until != nil {
		t.Fatal("the emptied map is kept")
	}
	c.release(keys[:1]) // on no map
	if c.until != nil {
		t.Fatal("a release made a map")
	}
}

package stripepay

import (
	"context"
	"testing"
	"time"

	"github.com/allot/allot/api/stripepay/stripemocktest"
)

// startStripeMock runs a real stripe-mock for the test (package stripemocktest).
func startStripeMock(t *testing.T) string { return stripemocktest.Start(t) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

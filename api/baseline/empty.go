package baseline

import (
	"context"
	"time"

	"github.com/allot/allot/api/wire"
)

// NewEmpty returns the HTTP ceiling: the same gin handler, request decoding and validation,
// with a store that does nothing. Every resource exists with one bucket "all" of capacity 0,
// creating one always succeeds, and every hold is answered 201 with the same fixed hold.
// Load generated against it measures the edge and the network only (its audit fails by
// design: nothing is stored; run the load generator with --no-audit).
func NewEmpty() *Handler {
	h := &wire.Hold{
		ID: "h_empty", ResourceID: "empty", Status: wire.HoldHeld, Buckets: []string{"all"}, Quantity: 1, UserID: "empty",
		ExpiresAt: new(time.Unix(0, 0).UTC()), CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC(),
	}
	return newHandler(emptyStore{raw: mustJSON(h)})
}

type emptyStore struct{ raw []byte }

func (emptyStore) createResource(context.Context, *resource) error { return nil }

func (emptyStore) availability(context.Context, string) (map[string]wire.Bucket, error) {
	return map[string]wire.Bucket{"all": {}}, nil
}

func (s emptyStore) placeHold(context.Context, *wire.Hold, string, string) ([]byte, bool, error) {
	return s.raw, false, nil
}

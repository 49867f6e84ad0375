package baseline

import (
	"context"
	"time"
)

// NewEmpty returns the HTTP ceiling: the same gin handler, request decoding and validation,
// with a store that does nothing. Every resource exists with one bucket "all" of capacity 0,
// creating one always succeeds, and every hold is answered 201 with the same fixed hold.
// Load generated against it measures the edge and the network only (its audit fails by
// design: nothing is stored; run the load generator with --no-audit).
func NewEmpty() *Handler {
	h := &hold{
		ID: "h_empty", ResourceID: "empty", Status: "held", Buckets: []string{"all"}, Quantity: 1, UserID: "empty",
		ExpiresAt: time.Unix(0, 0).UTC(), CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC(),
	}
	return newHandler(emptyStore{raw: mustJSON(h)})
}

type emptyStore struct{ raw []byte }

func (emptyStore) createResource(context.Context, *resource) error { return nil }

func (emptyStore) availability(context.Context, string) (map[string]bucket, error) {
	return map[string]bucket{"all": {}}, nil
}

func (s emptyStore) placeHold(context.Context, *hold, string, string) ([]byte, bool, error) {
	return s.raw, false, nil
}

package webhooks

import (
	"context"
	"fmt"

	"github.com/allot/allot/api/feed"
)

// HandleBatch is Handle for the events of one fetch of the bus's batch consumer: their
// deliveries are stored in one call (one transaction), so the intake costs a commit per batch
// instead of one per event. errs[i] is evs[i]'s own failure (its payload does not encode; the
// others are stored); err, when not nil, is the failure of all of them (nothing stored).
// Redelivered events add nothing, as with Handle.
func (d *Dispatcher) HandleBatch(ctx context.Context, evs []feed.Event) (errs []error, err error) {
	eps, err := d.endpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: handle %d events: %w", len(evs), err)
	}
	errs = make([]error, len(evs))
	var ds []Delivery
	now := d.cfg.Now()
	for i, ev := range evs {
		n := len(ds)
		if ds, err = deliveriesOf(eps, ev, now, ds); err != nil {
			ds, errs[i] = ds[:n], fmt.Errorf("webhooks: handle %s: %w", ev.ID, err)
		}
	}
	if len(ds) == 0 {
		return errs, nil
	}
	added, err := d.store.AddDeliveries(ctx, ds)
	if err != nil {
		return nil, fmt.Errorf("webhooks: handle %d events: %w", len(evs), err)
	}
	if added > 0 {
		d.poke()
	}
	return errs, nil
}

package reports

import (
	"context"
	"errors"
	"log/slog"

	"github.com/allot/allot/api/feed"
)

// ErrBadEvent is wrapped by Derive's errors: an event the rollups count whose data does not
// decode. Asking for it again would not help.
var ErrBadEvent = errors.New("reports: bad event")

// Consumer returns the handler the event bus calls with every event (feed.Handler): it
// applies the event to store once. A store error asks for a redelivery; an event whose data
// does not decode is logged (type and id only) and acknowledged, so that one bad record
// cannot stop the reports. log nil means slog.Default().
func Consumer(store Store, log *slog.Logger) feed.Handler {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev feed.Event) error {
		_, err := store.Apply(ctx, ev)
		if errors.Is(err, ErrBadEvent) {
			log.LogAttrs(ctx, slog.LevelError, "reports: event skipped", slog.String("type", ev.Type),
				slog.String("id", ev.ID), slog.String("error", err.Error()))
			return nil
		}
		return err
	}
}

// BatchConsumer is Consumer for a batch of events (bus.BatchHandler's shape): it applies evs
// in one transaction (Store.ApplyBatch). A store error asks for a redelivery of the whole
// batch, which is harmless (each event applies once by its id); bad events are logged (type
// and id only) and acknowledged with the rest.
func BatchConsumer(store Store, log *slog.Logger) func(ctx context.Context, evs []feed.Event) error {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, evs []feed.Event) error {
		_, err := store.ApplyBatch(ctx, evs)
		if errors.Is(err, ErrBadEvent) {
			log.LogAttrs(ctx, slog.LevelError, "reports: events skipped", slog.Int("batch", len(evs)),
				slog.String("error", err.Error()))
			return nil
		}
		return err
	}
}

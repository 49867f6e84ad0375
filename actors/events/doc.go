// Package events is the event catalogue of Allot: what a committed booking change tells the
// rest of the world. It is pure (no clock, no I/O) so the activation core can build events
// on its hot path, and it owns the one JSON encoding that the outbox stores, the relay
// publishes to NATS JetStream and the events API serves (docs/EVENTS.md).
//
// An Event is built by the core (actors/activation) for every decision of a group commit and
// is stored in the outbox table in the same transaction as the change (persistence.Batch
// .Events). Its data is the after-image of the hold or resource at that point of the batch,
// kept as booking values; Encode turns it into a Record, the wire form, with the data as
// JSON. Encoding happens off the actor (in the store's Commit), so the actor only pays for
// the Event values.
//
// Identity and order: an event's ID is "<resource id>/<version>/<index>" (resource ids never
// contain '/'), so it is stable across retries and republishes and unique across the store;
// Version is the resource's commit version, so one resource's events are totally ordered by
// (Version, Index).
package events

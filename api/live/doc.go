// Package live serves Server-Sent Events: a resource's availability as it changes
// (GET /v1/resources/{rid}/availability/stream, public) and a signed-in user's own hold
// events (GET /v1/me/events).
//
// The availability stream is built for flash sales: a Hub keeps one topic per watched
// resource, not one per watcher. An event about the resource marks the topic changed; the
// topic reads the availability at most once per Interval (default 100 ms, so at most 10
// updates a second) and hands the one result to every watcher without blocking: a watcher
// whose buffer is full is dropped (its stream ends and the client reconnects with
// Last-Event-ID) instead of holding the others up. Ten thousand watchers of one resource
// cost one read per interval and one non-blocking channel send each.
//
// Both are fed by the event bus through feed.Handler (Hub.Handle, UserFeed.Handle): on every
// node, an ephemeral consumer that sees every event, since watchers connect to any node.
package live

// Package bus is Allot's event bus on NATS JetStream: an embedded nats-server for a single
// node (file storage under the data dir, no listener, an in-process connection) or a
// connection to an external NATS cluster (--nats-url); the EVENTS stream (allot.events.>,
// retention by age, a duplicate window so a republish with the same Nats-Msg-Id is stored
// once); the outbox relay that publishes committed events; and the consumer framework
// (Subscriber) that webhooks, live streams, notifications, payments and reports use.
// docs/EVENTS.md describes the guarantees.
package bus

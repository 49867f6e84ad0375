// Package notify is the notification service (issue 14): it consumes hold events, decides
// what each user is to hear and when (decide.go, a pure state machine), records that in a
// durable outbox and timer table before the event is acknowledged (Store), and delivers
// through e-mail with iCalendar invitations (SMTP, go-mail), push (FCM, APNs) and optionally
// SMS (Twilio). cmd/notify.go runs it in the node.
//
// Layout, one concept per file:
//
//	model.go      kinds, channels, hold state, plans
//	decide.go     the pure decisions: an event or a due timer in, sends and timers out
//	              (scenario transcripts in testdata/, run by scenario_test.go)
//	span.go       bucket keys to a time span in the resource's zone
//	ical.go       the invitation (METHOD:REQUEST / CANCEL)
//	locale.go     dates and prices per locale
//	templates.go  one text and one HTML template per message kind, per language
//	channels.go   the channel seams (Mailer, Pusher, SMSSender) and the lookups the service needs
//	              (Resources; Contacts, the users'; HoldContacts, a hold's own, which wins)
//	smtp.go       Mailer over SMTP (--smtp-url)
//	fcm.go        Pusher over Firebase Cloud Messaging; apns.go over APNs (iOS devices)
//	twilio.go     SMSSender over Twilio's Messages API
//	contacts.go   ContactBook: the users' addresses from their tokens, sealed (migration 0012)
//	config.go     Config, its defaults and Validate; metrics.go the Prometheus metrics
//	deliver.go    one attempt at a notification: state check, render, address, hand-off, outcome
//	store.go      the durable Store seam; sqlstore.go its SQLite/PostgreSQL implementation,
//	              sqlbatch.go the consumer's batch write (ApplyEvents, with the inbox rows)
//	service.go    the shell: HandleBatch (the event consumer, a fetch at a time) and Handle,
//	              the outbox and timer workers
//	handlers.go   devices, preferences, calendar feeds, failed notifications (route table)
//
// Test servers shared with the node's tests: smtptest (SMTP), fcmtest (FCM v1), apnstest
// (APNs provider API over HTTP/2 TLS), twiliotest (Twilio Messages API). docs/NOTIFICATIONS.md describes what is sent when and how the node
// runs this package.
package notify

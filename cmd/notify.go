package cmd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
	"github.com/allot/allot/protos"
)

// notifyConsumer is the durable bus consumer the nodes share for notifications.
const notifyConsumer = "notify"

// nodeNotify is the notification service of a node (docs/NOTIFICATIONS.md): its store beside
// the main store, the service (its outbox and timer workers on the node's clock), the users'
// contacts, and a durable consumer of the event stream shared by the nodes. All zero when
// notifications are off (no channel configured).
type nodeNotify struct {
	db  *sql.DB
	svc *notify.Service
	// mailer keeps SMTP sessions open between messages; stop quits them (nil: no e-mail).
	mailer *notify.SMTPMailer
	book   *notify.ContactBook
	sub    bus.Subscription
	log    func(msg string, args ...any)
}

// startNotify opens the notification store and starts the service's workers; it returns
// the service's routes for the edge (none when notifications are off). The node must be
// started: resources and holds are read from their owners. contacts is the ring that seals
// the holds' contacts at the edge (nil: the node accepts none).
func (m *Main) startNotify(contacts api.ContactSealer) ([]mount.Route, error) {
	n := &m.notifier
	deps, channels, err := m.notifyChannels()
	if err != nil {
		return nil, err
	}
	if len(channels) == 0 {
		m.Logger.Info("notifications off: no channel configured (--smtp-url, --fcm-project, --twilio-account-sid)")
		return nil, nil
	}
	if n.db, err = m.notifyDB(); err != nil {
		return nil, err
	}
	dialect := notify.SQLite
	if m.Config.DBURL != "" {
		dialect = notify.Postgres
	}
	store, err := notify.NewSQLStore(n.db, dialect)
	if err != nil {
		return nil, err
	}
	if st, ok := m.store.(*sqlite.Store); ok {
		// The consumer's batches, the claims and the outcomes join the booking writer's group
		// commits instead of waiting for the file's write lock between them.
		store.WriteThrough(st.InGroup)
	}
	var sealer notify.Sealer
	if m.Config.DataKeyFile != "" {
		ring, err := pii.LoadKeyring(m.Config.DataKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--data-key-file: %w", err)
		}
		sealer = ring // set only with a ring: a typed nil would look like a sealer
	} else {
		m.Logger.Warn("notifications: users' contacts are stored unsealed; give --data-key-file to seal them")
	}
	n.book = notify.NewContactBook(store, sealer, m.Now)
	cfg := notify.DefaultConfig()
	cfg.MailFrom = m.Config.Notify.MailFrom
	cfg.Rules = notify.Rules{ExpiryWarning: m.Config.Notify.ExpiryWarning, ReminderBefore: m.Config.Notify.ReminderBefore}
	logger := m.Logger.With("component", "notify")
	n.log = logger.Warn
	deps.Store, deps.Contacts, deps.Now, deps.Log, deps.Metrics = store, n.book, m.Now, logger, m.registry
	deps.Resources = ownerResources{d: dispatcher{node: m.node}, timeout: m.Config.RequestTimeout, now: m.Now}
	deps.HoldContacts = ownerHoldContacts{d: dispatcher{node: m.node}, sealer: contacts, timeout: m.Config.RequestTimeout, now: m.Now} // notify_contacts.go
	n.mailer, _ = deps.Mailer.(*notify.SMTPMailer)
	if n.svc, err = notify.New(cfg, deps); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	n.svc.Start()
	m.Logger.Info("notifications on", "channels", strings.Join(channels, ","),
		"expiry_warning", cfg.Rules.ExpiryWarning, "reminder_before", cfg.Rules.ReminderBefore)
	return notify.NewHandlers(n.svc, api.Fail, func(c *gin.Context) string {
		if p := api.PrincipalOf(c); p != nil {
			return p.Subject
		}
		return ""
	}).Routes(), nil
}

// notifyChannels builds the providers the flags configure and names them; Deps fields of
// channels left off stay nil interfaces.
func (m *Main) notifyChannels() (notify.Deps, []string, error) {
	c := m.Config.Notify
	var d notify.Deps
	var on []string
	smtpURL, err := c.smtpURL()
	if err != nil {
		return d, nil, err
	}
	if smtpURL != "" {
		sc, err := notify.ParseSMTPURL(smtpURL)
		if err != nil {
			return d, nil, errors.New("--smtp-url: not a valid smtp:// or smtps:// URL") // never quote it: it may hold a password
		}
		mailer, err := notify.NewSMTPMailer(sc, c.MailFrom)
		if err != nil {
			return d, nil, err
		}
		d.Mailer = mailer
		on = append(on, "email")
	}
	if c.FCMProject != "" {
		// Not the start's ctx: the client keeps the context it is made with for fetching
		// access tokens, and the start's ends once the node serves.
		p, err := notify.NewFCMPusher(context.Background(), notify.FCMConfig{ProjectID: c.FCMProject, CredentialsFile: c.FCMCredentialsFile, Endpoint: c.FCMEndpoint})
		if err != nil {
			return d, nil, err
		}
		d.Pusher = p
		on = append(on, "push-fcm")
	}
	if c.APNsKeyFile != "" {
		p, err := notify.NewAPNsPusher(notify.APNsConfig{KeyFile: c.APNsKeyFile, KeyID: c.APNsKeyID, TeamID: c.APNsTeamID, Topic: c.APNsTopic, Host: c.APNsHost, TLS: c.APNsTLS})
		if err != nil {
			return d, nil, err
		}
		d.APNs = p
		on = append(on, "push-apns")
	}
	if c.TwilioAccountSID != "" {
		tok, err := c.twilioAuthToken()
		if err != nil {
			return d, nil, err
		}
		sms, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: c.TwilioAccountSID, AuthToken: tok, From: c.SMSFrom, BaseURL: c.TwilioBaseURL})
		if err != nil {
			return d, nil, err
		}
		d.SMS = sms
		on = append(on, "sms")
	}
	return d, on, nil
}

// notifyDB opens the notification store's connections on the main store's database
// (migrations 0007 and 0012 made its tables): a second pool on the SQLite file, or the
// PostgreSQL pool shared.
func (m *Main) notifyDB() (*sql.DB, error) {
	if pg, ok := m.store.(*postgres.Store); ok {
		return stdlib.OpenDBFromPool(pg.Pool()), nil
	}
	return sqlite.OpenSidePool(filepath.Join(m.Config.DataDir, "allot.db"), 5*time.Second)
}

// notifyTypes are the event types the service acts on that the stream carries.
func notifyTypes() []events.Type {
	var out []events.Type
	for _, t := range notify.ConsumedTypes() {
		if slices.Contains(events.Types[:], events.Type(t)) {
			out = append(out, events.Type(t))
		}
	}
	return out
}

// subscribeNotify connects the service to the bus as the durable consumer "notify", a fetch
// at a time: the fetch's effects are stored with its inbox rows in one transaction of the
// notify store (notify.Service.HandleBatch) before its events are acknowledged, instead of an
// inbox read, a transaction and an inbox write on the main store per event (docs/EVENTS.md,
// Cost).
func (m *Main) subscribeNotify(ctx context.Context) error {
	n := &m.notifier
	if n.svc == nil {
		return nil
	}
	b := m.events.bus
	if b == nil {
		m.Logger.Warn("notifications get no events: the node has no bus (--nats-url)")
		return nil
	}
	// No cfg.Inbox: HandleBatch keeps the consumer's inbox rows itself, in the transaction of
	// their effects (the same table and consumer name as the main store's inbox, so events it
	// marked before are known).
	cfg := bus.ConsumerConfig{Name: notifyConsumer, Types: notifyTypes(), BatchInterval: feedBatchInterval}
	svc := n.svc
	sub, err := b.SubscribeBatch(ctx, cfg, func(ctx context.Context, recs []events.Record) error {
		evs := make([]feed.Event, len(recs))
		for i, r := range recs {
			evs[i] = feedEvent(r)
		}
		errs, err := svc.HandleBatch(ctx, notifyConsumer, evs)
		if err != nil || errs == nil {
			return err
		}
		return bus.BatchErrors(errs) // a lookup failed: those events are redelivered after the backoff
	})
	if err != nil {
		return fmt.Errorf("notify consumer: %w", err)
	}
	n.sub = sub
	return nil
}

// stop stops the consumer, then the workers (the attempt in flight), then closes the
// store's connections. Safe twice and on a partly started nodeNotify.
func (n *nodeNotify) stop() error {
	if n.sub != nil {
		n.sub.Stop()
		n.sub = nil
	}
	var errs []error
	if n.svc != nil {
		if err := n.svc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("notify: %w", err))
		}
		n.svc = nil
	}
	if n.mailer != nil { // after the workers: no send is using a session
		_ = n.mailer.Close()
		n.mailer = nil
	}
	if n.db != nil {
		if err := n.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("notify db: %w", err))
		}
		n.db = nil
	}
	return errors.Join(errs...)
}

// ownerResources is notify.Resources over the resources' owners: a resource's name, zone,
// slot length and price, read through the Dispatcher as the edge reads them.
type ownerResources struct {
	d       api.Dispatcher
	timeout time.Duration
	now     func() time.Time
}

func (o ownerResources) Resource(ctx context.Context, id string) (notify.ResourceInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	reply, err := o.d.Dispatch(ctx, &protos.Command{ResourceId: id, DeadlineUnixMs: o.now().Add(o.timeout).UnixMilli(),
		Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}})
	switch {
	case err != nil:
		return notify.ResourceInfo{}, fmt.Errorf("read resource: %w", err)
	case reply.GetError() != nil && reply.GetError().GetCode() == booking.CodeNotFound:
		return notify.ResourceInfo{}, fmt.Errorf("read resource %s: %w", id, notify.ErrNotFound)
	case reply.GetError() != nil:
		return notify.ResourceInfo{}, fmt.Errorf("read resource %s: %s", id, reply.GetError().GetMessage())
	case reply.GetResource() == nil:
		return notify.ResourceInfo{}, fmt.Errorf("read resource %s: no resource in the reply", id)
	}
	r := reply.GetResource()
	info := notify.ResourceInfo{Name: r.GetName(), Timezone: r.GetTimezone(), SlotEvery: time.Duration(r.GetSlotEveryMs()) * time.Millisecond}
	if info.Name == "" {
		info.Name = id
	}
	if p := r.GetPrice(); p != nil && p.GetCurrency() != "" {
		info.Price = &notify.Money{Amount: p.GetAmount(), Currency: p.GetCurrency()}
	}
	return info, nil
}

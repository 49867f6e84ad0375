package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Deliver claims the notifications due now, sends each and records the outcomes; it
// returns how many it claimed. Outcomes are recorded as they come, group-committed: whatever
// finished while the previous record was being written goes into the next FinishAll (one
// transaction), so that a busy batch costs a few commits rather than one per message, and a
// quiet one records each outcome at once. An outcome that cannot be recorded because the
// claim's lease ran out (stale) is dropped: the next claimant sends again, and the receiver
// recognises the duplicate by its Message-ID (at least once, never lost). After Close it
// stops between notifications; while the store fails it launches no more sends.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	now := s.d.Now()
	ns, err := s.d.Store.ClaimNotifications(ctx, now, now.Add(s.cfg.Lease), s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	if len(ns) == 0 {
		return 0, nil
	}
	outcomes := make(chan Finished, len(ns)) // never blocks a sender
	var failing atomic.Bool
	recorded := make(chan error, 1)
	go func() { recorded <- s.record(ctx, outcomes, &failing) }()
	var wg sync.WaitGroup
	for _, n := range ns {
		s.slots <- struct{}{} // shared by the delivery loops: Concurrency attempts at most
		if s.stopping() || failing.Load() {
			// The rest is taken again when the lease runs out; while the store fails, no
			// more messages are sent whose outcome could not be recorded.
			<-s.slots
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-s.slots; wg.Done() }()
			outcomes <- Finished{Notification: n, Outcome: s.outcome(ctx, n)}
		}()
	}
	wg.Wait()
	close(outcomes)
	return len(ns), <-recorded
}

// record writes the outcomes arriving on ch until it closes, each FinishAll taking all that
// arrived meanwhile. After a store failure it sets failing and keeps draining ch (those
// outcomes are lost, as in a crash: their sends are repeated after the lease); it returns
// the first failure.
func (s *Service) record(ctx context.Context, ch <-chan Finished, failing *atomic.Bool) error {
	var first error
	for f := range ch {
		batch := []Finished{f}
	more:
		for {
			select {
			case g, ok := <-ch:
				if !ok {
					break more
				}
				batch = append(batch, g)
			default:
				break more
			}
		}
		if first != nil {
			continue
		}
		if _, err := s.d.Store.FinishAll(ctx, batch, s.d.Now()); err != nil {
			first = err
			failing.Store(true)
		}
	}
	return first
}

// outcome attempts n, logs a failure and counts the outcome in the metrics.
func (s *Service) outcome(ctx context.Context, n Notification) Outcome {
	o := s.attempt(ctx, n)
	if o.Status == StatusFailed || o.Status == StatusPending {
		s.d.Log.Warn("notify: attempt failed", "notification", n.ID, "kind", n.Kind, "channel", n.Channel,
			"attempt", n.Attempts, "final", o.Status == StatusFailed, "err", o.Error)
	}
	s.m.observe(n, o)
	if o.Status == StatusSent {
		s.m.lag.WithLabelValues(string(n.Channel)).Observe(s.d.Now().Sub(n.CreatedAt).Seconds())
	}
	return o
}

// attempt sends n once and says what became of it.
func (s *Service) attempt(ctx context.Context, n Notification) Outcome {
	now := s.d.Now()
	var hp *HoldState
	if h, err := s.d.Store.Hold(ctx, n.HoldID); err == nil {
		hp = &h
	} else if !errors.Is(err, ErrNotFound) {
		return s.retry(n, now, err)
	}
	if hp == nil || !StillWanted(n.Kind, hp, now) {
		return Outcome{Status: StatusSkipped, Error: "made moot by the hold's state"}
	}
	err := s.send(ctx, n, *hp)
	var skip skipError
	switch {
	case err == nil:
		return Outcome{Status: StatusSent}
	case errors.As(err, &skip):
		return Outcome{Status: StatusSkipped, Error: skip.reason}
	case errors.Is(err, ErrPermanent):
		return Outcome{Status: StatusFailed, Error: err.Error()}
	}
	return s.retry(n, now, err)
}

func (s *Service) retry(n Notification, now time.Time, err error) Outcome {
	if n.Attempts >= s.cfg.MaxAttempts {
		return Outcome{Status: StatusFailed, Error: err.Error()}
	}
	return Outcome{Status: StatusPending, NextAttemptAt: now.Add(s.cfg.backoff(n.Attempts)), Error: err.Error()}
}

// skipError says a notification cannot go out on its channel by design (no address, no
// device, channel off): it is skipped, not retried.
type skipError struct{ reason string }

func (e skipError) Error() string { return "skipped: " + e.reason }

// send renders n for its user and hands it to the channel's provider.
func (s *Service) send(ctx context.Context, n Notification, h HoldState) error {
	res, err := s.resource(ctx, h.ResourceID)
	if err != nil {
		return err
	}
	p, err := s.preferences(ctx, h.UserID)
	if err != nil {
		return err
	}
	lang := language(p.Locale)
	view, sp := s.view(h, res, p, lang)
	msg, err := s.tpl.Render(n.Kind, p.Locale, view)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	switch n.Channel {
	case ChannelEmail:
		return s.sendMail(ctx, n, h, res, sp, msg)
	case ChannelPush:
		return s.sendPush(ctx, n, h, msg)
	case ChannelSMS:
		if s.d.SMS == nil {
			return skipError{"sms is off"}
		}
		c, err := s.contact(ctx, h)
		if err != nil {
			return err
		}
		if c.Phone == "" {
			return skipError{"no phone number"}
		}
		return s.d.SMS.SendSMS(ctx, c.Phone, msg.Short)
	}
	return fmt.Errorf("%w: unknown channel %q", ErrPermanent, n.Channel)
}

// contact is where h's messages go: the hold's own contact when it has an address (all of
// it: a guest's booking never falls back to the booking user's phone for SMS), else the
// user's. Push is unaffected: it goes to the hold's user's devices.
func (s *Service) contact(ctx context.Context, h HoldState) (Contact, error) {
	if s.d.HoldContacts != nil {
		c, err := s.d.HoldContacts.HoldContact(ctx, h.ResourceID, h.HoldID, h.UserID)
		if err != nil {
			return Contact{}, err
		}
		if c.Email != "" || c.Phone != "" {
			return c, nil
		}
	}
	return s.d.Contacts.Contact(ctx, h.UserID)
}

// view formats h for one reader: the reader's zone when they chose one, else the resource's.
func (s *Service) view(h HoldState, res ResourceInfo, p Preferences, lang string) (View, Span) {
	sp, _ := SpanOf(h.Buckets, zone(res.Timezone), res.SlotEvery)
	shown := sp
	if p.Timezone != "" && !sp.AllDay && !sp.Start.IsZero() {
		loc := zone(p.Timezone)
		shown.Start, shown.End = sp.Start.In(loc), sp.End.In(loc)
	}
	v := View{Resource: res.Name, When: formatSpan(shown, lang), Quantity: h.Quantity, HoldID: h.HoldID}
	if res.Price != nil {
		v.Price = formatMoney(res.Price.Amount*h.Quantity*int64(len(h.Buckets)), res.Price.Currency, lang)
	}
	if !h.ExpiresAt.IsZero() {
		loc := zone(p.Timezone)
		if p.Timezone == "" {
			loc = zone(res.Timezone)
		}
		v.ExpiresAt = formatDateTime(h.ExpiresAt.In(loc), lang)
	}
	return v, sp
}

func (s *Service) sendMail(ctx context.Context, n Notification, h HoldState, res ResourceInfo, sp Span, msg Rendered) error {
	c, err := s.contact(ctx, h)
	if err != nil {
		return err
	}
	if c.Email == "" {
		return skipError{"no e-mail address"}
	}
	m := Mail{MessageID: MessageID(n.EventID, n.Channel, s.cfg.mailDomain()), To: c.Email, Subject: msg.Subject,
		Text: msg.Text, HTML: msg.HTML, Date: s.d.Now()}
	if n.Kind == KindConfirmation || n.Kind == KindCancellation {
		inv := Invite{HoldID: h.HoldID, Sequence: h.Version, Summary: res.Name, Span: sp, Zone: zoneName(res.Timezone),
			Organizer: s.cfg.MailFrom, Attendee: c.Email, Stamp: h.UpdatedAt, Cancelled: n.Kind == KindCancellation}
		if a, err := parseAddr(s.cfg.MailFrom); err == nil {
			inv.Organizer = a
		}
		m.Calendar, m.CalendarMethod = InvitationICS(inv), "REQUEST"
		if inv.Cancelled {
			m.CalendarMethod = "CANCEL"
		}
	}
	return s.d.Mailer.Send(ctx, m)
}

// sendPush sends to every device of the user. A device whose token is unregistered is
// removed; the notification counts as sent when one device took it, is retried when none
// did and one failed transiently, and is skipped when the user has no device left.
func (s *Service) sendPush(ctx context.Context, n Notification, h HoldState, msg Rendered) error {
	devs, err := s.d.Store.Devices(ctx, h.UserID)
	if err != nil {
		return err
	}
	p := Push{Title: msg.Subject, Body: msg.Short, CollapseKey: h.HoldID,
		Data: map[string]string{"kind": string(n.Kind), "hold_id": h.HoldID, "notification_id": n.ID}}
	var firstErr error
	sent := 0
	for _, d := range devs {
		pusher := s.d.Pusher
		if d.Platform == "ios" && s.d.APNs != nil {
			pusher = s.d.APNs
		}
		if pusher == nil {
			continue // an iOS-only setup and an Android device
		}
		err := pusher.Push(ctx, d.Token, p)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, ErrUnregistered):
			if err := s.d.Store.DeleteToken(ctx, d.Token); err != nil {
				return err
			}
			s.d.Log.Info("notify: removed an unregistered device", "device", d.ID)
		case firstErr == nil:
			firstErr = err
		}
	}
	switch {
	case sent > 0:
		return nil
	case firstErr != nil:
		return firstErr
	}
	return skipError{"no push device"}
}

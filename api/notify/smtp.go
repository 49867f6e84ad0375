package notify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// MessageID is the Message-ID (without angle brackets) of the message for (event id,
// channel) sent from domain: the same inputs always give the same id, so duplicates from a
// redelivery are recognisable by it.
func MessageID(eventID string, ch Channel, domain string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + string(ch)))
	return hex.EncodeToString(sum[:16]) + "@" + domain
}

// SMTPConfig says how to reach the mail server. ParseSMTPURL fills it from --smtp-url.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS: TLS from the first byte (smtps://, port 465).
	ImplicitTLS bool
	// RequireSTARTTLS: refuse to send unless the server offers STARTTLS
	// (smtp://...?starttls=required). Otherwise STARTTLS is used when offered.
	RequireSTARTTLS bool
	// TLS overrides the TLS client configuration (tests trust their own CA). Nil: the
	// system roots, ServerName = Host.
	TLS *tls.Config
	// Timeout bounds connecting and each command; zero is 30s.
	Timeout time.Duration
	// HELO is the name to greet with; "" is the host name.
	HELO string
	// MaxIdle bounds the sessions kept open between messages (SMTPMailer); zero is
	// DefaultSMTPMaxIdle, negative keeps none (a session per message).
	MaxIdle int
}

// ParseSMTPURL reads --smtp-url:
//
//	smtps://user:pass@host:465            implicit TLS (default port 465)
//	smtp://user:pass@host:587?starttls=required   STARTTLS or nothing
//	smtp://host:25                         a local relay; STARTTLS when offered (default port 25)
//
// Credentials in the URL are percent-encoded. The URL is a secret when it holds a password:
// pass it from a file or the environment, never a flag default.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("smtp url: %w", err)
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtps":
		c.ImplicitTLS, c.Port = true, 465
	case "smtp":
		c.Port = 25
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url: scheme %q is not smtp or smtps", u.Scheme)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return SMTPConfig{}, errors.New("smtp url: no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("smtp url: bad port %q", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return SMTPConfig{}, fmt.Errorf("smtp url: unknown parameter %q", k)
		}
	}
	switch v := q.Get("starttls"); v {
	case "", "opportunistic":
	case "required":
		if c.ImplicitTLS {
			return SMTPConfig{}, errors.New("smtp url: starttls=required with smtps (already TLS)")
		}
		c.RequireSTARTTLS = true
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url: starttls=%q is not required or opportunistic", v)
	}
	return c, nil
}

// SMTPMailer is the Mailer over SMTP (github.com/wneessen/go-mail). It keeps up to
// SMTPConfig.MaxIdle sessions open between messages and sends the next message on one of them
// (MAIL, RCPT, DATA, RSET) instead of dialing, greeting and quitting per message: at a
// flash sale's rate the per-message session was the hand-off's cost (docs/PERFORMANCE.md,
// round 18). A session is used by one Send at a time, dropped after an error, after
// smtpSessionMessages messages and after smtpIdle unused; a kept session the server closed
// meanwhile is noticed by the NOOP before the message (go-mail's connection check), and the
// message then goes on a fresh one. Safe for concurrent use; Close quits the idle sessions.
type SMTPMailer struct {
	cfg    SMTPConfig
	from   string
	client *mail.Client // the options; dials and sends on sessions it does not keep
	now    func() time.Time

	mu     sync.Mutex
	idle   []*smtpSession // the most recently used last
	closed bool
}

// smtpSession is an open SMTP session between messages.
type smtpSession struct {
	c      *smtp.Client
	sent   int
	usedAt time.Time
}

const (
	// smtpIdle bounds how long a session is kept unused: well below the 5 minutes RFC 5321
	// (4.5.3.2.7) asks servers to wait, and short enough not to hold a relay's connection
	// slots through a quiet hour.
	smtpIdle = 30 * time.Second
	// smtpSessionMessages bounds the messages of one session (providers limit them, e.g. to
	// 100 per connection).
	smtpSessionMessages = 100
	// DefaultSMTPMaxIdle is SMTPConfig.MaxIdle's default: the notification workers' default
	// Concurrency, so that every concurrent send finds a session.
	DefaultSMTPMaxIdle = 16
)

var _ Mailer = (*SMTPMailer)(nil)

// NewSMTPMailer returns a Mailer sending from the address from (--mail-from).
func NewSMTPMailer(cfg SMTPConfig, from string) (*SMTPMailer, error) {
	if cfg.Host == "" || cfg.Port == 0 {
		return nil, errors.New("smtp: no host or port")
	}
	m := mail.NewMsg()
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("smtp: --mail-from: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = DefaultSMTPMaxIdle
	}
	s := &SMTPMailer{cfg: cfg, from: from, now: time.Now}
	client, err := mail.NewClient(cfg.Host, s.options()...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	s.client = client
	return s, nil
}

// take returns a kept session, the most recently used (nil: none; dial one). Sessions unused
// for smtpIdle are closed on the way.
func (s *SMTPMailer) take() *smtpSession {
	now := s.now()
	var stale []*smtpSession
	defer func() {
		for _, x := range stale {
			_ = x.c.Close() // no QUIT: the server may have timed it out already
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		x := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(x.usedAt) < smtpIdle {
			return x
		}
		stale = append(stale, x)
	}
	return nil
}

// keep puts a session that just sent a message back for the next one, unless it has sent
// its share, the mailer keeps MaxIdle already or is closed.
func (s *SMTPMailer) keep(x *smtpSession) {
	x.sent++
	x.usedAt = s.now()
	s.mu.Lock()
	if !s.closed && x.sent < smtpSessionMessages && len(s.idle) < s.cfg.MaxIdle {
		s.idle = append(s.idle, x)
		x = nil
	}
	s.mu.Unlock()
	if x != nil {
		quitSession(x.c)
	}
}

func quitSession(c *smtp.Client) {
	if err := c.Quit(); err != nil {
		_ = c.Close()
	}
}

// Close quits the kept sessions; later sends dial and quit per message. Safe twice.
func (s *SMTPMailer) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, x := range idle {
		quitSession(x.c)
	}
	return nil
}

func (s *SMTPMailer) options() []mail.Option {
	c := s.cfg
	tlsCfg := c.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(c.Timeout), mail.WithTLSConfig(tlsCfg)}
	switch {
	case c.ImplicitTLS:
		opts = append(opts, mail.WithSSL())
	case c.RequireSTARTTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if c.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(c.Username),
			mail.WithPassword(c.Password))
	}
	if c.HELO != "" {
		opts = append(opts, mail.WithHELO(c.HELO))
	}
	return opts
}

// Send builds the MIME message (multipart/alternative: text, HTML and, for invitations, a
// text/calendar part with its METHOD, plus the same as an invite.ics attachment for clients
// that only look at attachments) and hands it to the server.
func (s *SMTPMailer) Send(ctx context.Context, m Mail) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("smtp: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("smtp: to: %w: %w", ErrPermanent, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	if m.Calendar != "" {
		msg.AddAlternativeString(mail.ContentType("text/calendar; method="+m.CalendarMethod), m.Calendar)
		if err := msg.AttachReader("invite.ics", strings.NewReader(m.Calendar),
			mail.WithFileContentType(mail.ContentType("application/ics"))); err != nil {
			return fmt.Errorf("smtp: attach: %w", err)
		}
	}
	for retried := false; ; retried = true {
		x := s.take()
		reused := x != nil
		if !reused {
			c, err := s.client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				return fmt.Errorf("smtp: dial: %w", classifySMTP(err))
			}
			x = &smtpSession{c: c}
		}
		err := s.client.SendWithSMTPClient(x.c, msg)
		if err == nil {
			s.keep(x)
			return nil
		}
		_ = x.c.Close() // a session whose command failed is in an unknown state: not reused
		if msg.IsDelivered() {
			return nil // DATA was accepted; only the RSET after it failed
		}
		var se *mail.SendError
		if reused && !retried && errors.As(err, &se) && se.Reason == mail.ErrConnCheck {
			continue // a kept session the server closed meanwhile: once more on a fresh one
		}
		return fmt.Errorf("smtp: %w", classifySMTP(err))
	}
}

// classifySMTP marks a 5xx reply (RFC 5321: permanent negative completion) as permanent;
// everything else (network, TLS, 4xx) is retried.
func classifySMTP(err error) error {
	code := 0
	var se *mail.SendError
	var te *textproto.Error
	switch {
	case errors.As(err, &se):
		code = se.ErrorCode()
	case errors.As(err, &te):
		code = te.Code
	}
	if code >= 500 && code < 600 {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	return err
}

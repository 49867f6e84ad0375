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
	"time"

	mail "github.com/wneessen/go-mail"
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

// SMTPMailer is the Mailer over SMTP (github.com/wneessen/go-mail). Each Send dials, sends
// and quits: notifications are few per second per node, and a fresh connection needs no
// keep-alive or reconnect logic. Safe for concurrent use.
type SMTPMailer struct {
	cfg  SMTPConfig
	from string
}

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
	return &SMTPMailer{cfg: cfg, from: from}, nil
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
	client, err := mail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", classifySMTP(err))
	}
	return nil
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

package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// TwilioConfig says how to send text messages through Twilio's Messages API.
type TwilioConfig struct {
	// AccountSID is the account (--twilio-account-sid); AuthToken its auth token, a secret
	// (ALLOT_TWILIO_AUTH_TOKEN or --twilio-auth-token-file).
	AccountSID string
	AuthToken  string
	// From is the sending number in E.164 (--sms-from).
	From string
	// BaseURL replaces https://api.twilio.com (tests point it at a local server that speaks
	// the Messages API).
	BaseURL string
	// Timeout bounds one request; zero is 15s. The Twilio client takes no context, so this
	// is what bounds a send after the caller's context ended.
	Timeout time.Duration
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// TwilioSMS is the SMSSender over Twilio (github.com/twilio/twilio-go). Safe for concurrent
// use.
type TwilioSMS struct {
	api  *twapi.ApiService
	from string
}

var _ SMSSender = (*TwilioSMS)(nil)

// NewTwilioSMS returns an SMSSender for cfg; it does not call out.
func NewTwilioSMS(cfg TwilioConfig) (*TwilioSMS, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, errors.New("twilio: account sid, auth token and from number are required")
	}
	if !alnum.MatchString(cfg.AccountSID) || !alnum.MatchString(cfg.AuthToken) {
		// The client refuses such credentials on every request; say so at start.
		return nil, errors.New("twilio: account sid and auth token are letters and digits only")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	c := &twclient.Client{Credentials: twclient.NewCredentials(cfg.AccountSID, cfg.AuthToken),
		HTTPClient: &http.Client{Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	c.SetAccountSid(cfg.AccountSID)
	var bc twclient.BaseClient = c
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("twilio: base url %q is not an http(s) URL", cfg.BaseURL)
		}
		bc = rebased{Client: c, base: u}
	}
	return &TwilioSMS{api: twapi.NewApiServiceWithClient(bc), from: cfg.From}, nil
}

// rebased sends the client's requests to another origin (a local server in tests).
type rebased struct {
	*twclient.Client
	base *url.URL
}

func (r rebased) SendRequest(method, rawURL string, data url.Values, headers map[string]any, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = r.base.Scheme, r.base.Host
	return r.Client.SendRequest(method, u.String(), data, headers, body...)
}

// SendSMS sends body to the number to. Twilio's 4xx refusals (an invalid or unreachable
// number, a blocked sender) are permanent, except 429; 5xx and network errors are retried.
func (t *TwilioSMS) SendSMS(ctx context.Context, to, body string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &twapi.CreateMessageParams{}
	p.SetTo(to).SetFrom(t.from).SetBody(body)
	_, err := t.api.CreateMessage(p)
	var re *twclient.TwilioRestError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.Status != http.StatusTooManyRequests:
		return fmt.Errorf("%w: twilio %d (code %d)", ErrPermanent, re.Status, re.Code)
	case errors.As(err, &re):
		return fmt.Errorf("twilio: %d (code %d)", re.Status, re.Code)
	default:
		return fmt.Errorf("twilio: %w", err)
	}
}

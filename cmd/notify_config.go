package cmd

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/allot/allot/api/notify"
)

// NotifyConfig configures the notification service (api/notify, docs/NOTIFICATIONS.md).
// Notifications are off unless a channel is configured: e-mail (SMTPURL or SMTPURLFile),
// push (FCMProject, and optionally APNs) or SMS (Twilio). Secrets (the SMTP URL may carry a
// password, the Twilio auth token) have no flag default: they come from the environment
// (ALLOT_SMTP_URL, ALLOT_TWILIO_AUTH_TOKEN) or a file, and are never logged.
type NotifyConfig struct {
	// SMTPURL is the mail server: smtps://user:pass@host:465 (implicit TLS),
	// smtp://user:pass@host:587?starttls=required (STARTTLS or nothing), smtp://host:25 (a
	// local relay; STARTTLS when offered). SMTPURLFile holds it instead (one line).
	SMTPURL     string
	SMTPURLFile string
	// MailFrom is the sender; its domain ends every Message-ID.
	MailFrom string
	// FCMProject turns push through Firebase Cloud Messaging on; FCMCredentialsFile is the
	// service account key ("" uses the application default credentials); FCMEndpoint replaces
	// https://fcm.googleapis.com/v1 (tests).
	FCMProject         string
	FCMCredentialsFile string
	FCMEndpoint        string
	// APNsKeyFile (a .p8 token key) turns APNs on for iOS devices, with its key id, team id,
	// the app's bundle id (topic) and host.
	APNsKeyFile string
	APNsKeyID   string
	APNsTeamID  string
	APNsTopic   string
	APNsHost    string
	// APNsTLS replaces the system's trust for the APNs host (no flag: tests trust the CA of
	// a local server speaking the APNs API, api/notify/apnstest). Nil in production.
	APNsTLS *tls.Config
	// TwilioAccountSID turns SMS through Twilio on, with the auth token (TwilioAuthToken or
	// TwilioAuthTokenFile), the sending number SMSFrom, and TwilioBaseURL replacing
	// https://api.twilio.com (tests).
	TwilioAccountSID    string
	TwilioAuthToken     string
	TwilioAuthTokenFile string
	SMSFrom             string
	TwilioBaseURL       string
	// ExpiryWarning and ReminderBefore are the timing rules (notify.Rules; 0 turns one off).
	ExpiryWarning  time.Duration
	ReminderBefore time.Duration
}

// DefaultAPNsHost is Apple's production push host.
const DefaultAPNsHost = "https://api.push.apple.com"

// DefaultNotifyConfig returns the notification defaults: every channel off, notify's own
// sender and timing rules.
func DefaultNotifyConfig() NotifyConfig {
	d := notify.DefaultConfig()
	return NotifyConfig{MailFrom: d.MailFrom, APNsHost: DefaultAPNsHost,
		ExpiryWarning: d.Rules.ExpiryWarning, ReminderBefore: d.Rules.ReminderBefore}
}

func (c *NotifyConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.SMTPURL, "smtp-url", c.SMTPURL, "notifications: mail server smtp://host:25, smtp://user:pass@host:587?starttls=required or smtps://user:pass@host:465 (empty: no e-mail); with a password give it in ALLOT_SMTP_URL or --smtp-url-file, not on the command line")
	fs.StringVar(&c.SMTPURLFile, "smtp-url-file", c.SMTPURLFile, "notifications: file holding the --smtp-url (mode 0600 when it holds a password)")
	fs.StringVar(&c.MailFrom, "mail-from", c.MailFrom, "notifications: sender of e-mails; its domain ends every Message-ID")
	fs.StringVar(&c.FCMProject, "fcm-project", c.FCMProject, "notifications: Firebase project id for push (empty: no FCM push)")
	fs.StringVar(&c.FCMCredentialsFile, "fcm-credentials-file", c.FCMCredentialsFile, "notifications: FCM service account key file (empty: application default credentials)")
	fs.StringVar(&c.FCMEndpoint, "fcm-endpoint", c.FCMEndpoint, "notifications: FCM v1 API base URL (empty: https://fcm.googleapis.com/v1; tests)")
	fs.StringVar(&c.APNsKeyFile, "apns-key-file", c.APNsKeyFile, "notifications: APNs .p8 token key for iOS devices (empty: iOS devices through FCM)")
	fs.StringVar(&c.APNsKeyID, "apns-key-id", c.APNsKeyID, "notifications: APNs key id")
	fs.StringVar(&c.APNsTeamID, "apns-team-id", c.APNsTeamID, "notifications: APNs team id")
	fs.StringVar(&c.APNsTopic, "apns-topic", c.APNsTopic, "notifications: the iOS app's bundle id")
	fs.StringVar(&c.APNsHost, "apns-host", c.APNsHost, "notifications: APNs host (https://api.sandbox.push.apple.com for development builds)")
	fs.StringVar(&c.TwilioAccountSID, "twilio-account-sid", c.TwilioAccountSID, "notifications: Twilio account for SMS (empty: no SMS)")
	fs.StringVar(&c.TwilioAuthToken, "twilio-auth-token", c.TwilioAuthToken, "notifications: Twilio auth token; give it in ALLOT_TWILIO_AUTH_TOKEN or --twilio-auth-token-file, not on the command line")
	fs.StringVar(&c.TwilioAuthTokenFile, "twilio-auth-token-file", c.TwilioAuthTokenFile, "notifications: file holding the Twilio auth token")
	fs.StringVar(&c.SMSFrom, "sms-from", c.SMSFrom, "notifications: sending phone number for SMS (E.164)")
	fs.StringVar(&c.TwilioBaseURL, "twilio-base-url", c.TwilioBaseURL, "notifications: Twilio API base URL (empty: https://api.twilio.com; tests)")
	fs.DurationVar(&c.ExpiryWarning, "notify-expiry-warning", c.ExpiryWarning, "notifications: warn this long before a hold expires (0: never)")
	fs.DurationVar(&c.ReminderBefore, "notify-reminder-before", c.ReminderBefore, "notifications: remind this long before a booking starts (0: never)")
}

// validate checks the notification flags. Its errors never quote a secret.
func (c *NotifyConfig) validate() error {
	switch {
	case c.SMTPURL != "" && c.SMTPURLFile != "":
		return errors.New("--smtp-url and --smtp-url-file: give one")
	case c.TwilioAuthToken != "" && c.TwilioAuthTokenFile != "":
		return errors.New("--twilio-auth-token and --twilio-auth-token-file: give one")
	case c.TwilioAccountSID != "" && (c.SMSFrom == "" || (c.TwilioAuthToken == "" && c.TwilioAuthTokenFile == "")):
		return errors.New("--twilio-account-sid needs --sms-from and an auth token (ALLOT_TWILIO_AUTH_TOKEN or --twilio-auth-token-file)")
	case c.APNsKeyFile != "" && (c.APNsKeyID == "" || c.APNsTeamID == "" || c.APNsTopic == ""):
		return errors.New("--apns-key-file needs --apns-key-id, --apns-team-id and --apns-topic")
	case c.ExpiryWarning < 0 || c.ReminderBefore < 0:
		return errors.New("--notify-expiry-warning and --notify-reminder-before must not be negative")
	}
	for name, v := range map[string]string{"--fcm-endpoint": c.FCMEndpoint, "--apns-host": c.APNsHost, "--twilio-base-url": c.TwilioBaseURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s must be an http(s) URL", name)
		}
	}
	if c.SMTPURL != "" {
		if _, err := notify.ParseSMTPURL(c.SMTPURL); err != nil {
			return errors.New("--smtp-url: not a valid smtp:// or smtps:// URL")
		}
	}
	nc := notify.DefaultConfig()
	nc.MailFrom = c.MailFrom
	if err := nc.Validate(); err != nil {
		return errors.New("--mail-from: not a mail address")
	}
	return nil
}

// smtpURL is the SMTP URL from the flag (or ALLOT_SMTP_URL) or the file; "" when e-mail is off.
func (c *NotifyConfig) smtpURL() (string, error) {
	return secretValue(c.SMTPURL, c.SMTPURLFile, "--smtp-url-file")
}

// twilioAuthToken is the token from the flag (or ALLOT_TWILIO_AUTH_TOKEN) or the file.
func (c *NotifyConfig) twilioAuthToken() (string, error) {
	return secretValue(c.TwilioAuthToken, c.TwilioAuthTokenFile, "--twilio-auth-token-file")
}

// secretValue is v, else the trimmed content of file. Errors name the flag, not the value.
func secretValue(v, file, flagName string) (string, error) {
	if v != "" || file == "" {
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: the file is empty", flagName)
	}
	return s, nil
}

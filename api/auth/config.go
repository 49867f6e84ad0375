package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// ErrConfig is wrapped by every error returned for an unusable Config.
var ErrConfig = errors.New("auth: invalid config")

// Mode selects where tokens come from.
type Mode string

const (
	// ModeOIDC trusts an external OpenID Connect provider, found by discovery at Issuer.
	ModeOIDC Mode = "oidc"
	// ModeDev trusts the node's own DevIssuer, whose key lives under the data dir (or in a
	// shared key file). For `make run`, tests and load tests, never for real users.
	ModeDev Mode = "dev"
)

// Config configures token verification. Zero values are not defaults: start from
// DefaultConfig and change what differs.
type Config struct {
	// Mode is ModeOIDC or ModeDev.
	Mode Mode
	// Issuer is the issuer URL exactly as tokens carry it in "iss"; in ModeOIDC its
	// /.well-known/openid-configuration is fetched at start. It must be https, except on a
	// loopback host (tests, a local Keycloak).
	Issuer string
	// Audience must be one of the token's "aud" values: the API identifier (Auth0), the client
	// id (Keycloak, unless an audience mapper is set) or the project id (Firebase).
	Audience string
	// RolesClaim is the claim holding the user's roles: a top-level claim of that exact name
	// (Auth0's namespaced "https://allot.dev/roles"), else a dotted path into nested objects
	// ("realm_access.roles" for Keycloak). Its value is an array of strings or a
	// space-separated string; roles other than customer, operator and admin are ignored.
	RolesClaim string
	// UserClaim is the claim naming the user (a dotted path, usually "sub"); a token without
	// it is refused.
	UserClaim string
	// MFAACR, if set, is an "acr" value that proves a second factor (a Keycloak level of
	// assurance, for example). An "amr" containing mfa, otp, hwk, swk or sms (RFC 8176) always
	// does.
	MFAACR string
	// MFAClaim, if set, names a claim (looked up like RolesClaim) whose presence with a
	// non-empty value proves a second factor: "firebase.sign_in_second_factor" for Firebase
	// Auth, a namespaced claim set by an Auth0 Action.
	MFAClaim string
	// ClockSkew is how far this node's clock may differ from the issuer's: a token is
	// accepted up to ClockSkew after "exp" and from ClockSkew before "nbf" and "iat". Keep it
	// small (clocks are synced with NTP); at most MaxClockSkew.
	ClockSkew time.Duration
	// CacheSize bounds the verified tokens kept in memory (a few hundred bytes each), least
	// recently used first out; 0 verifies every request.
	CacheSize int
	// CacheIdle drops a cached token not presented for that long (it is verified again if it
	// comes back: one signature check), so that the cache holds the tokens in use rather than
	// every token of the last hours; 0 keeps a token until it expires or is evicted.
	CacheIdle time.Duration
	// MaxTokenBytes refuses longer tokens before any work is done.
	MaxTokenBytes int
	// KeyRefetchInterval is the shortest time between two fetches of the key set that tokens
	// with an unknown "kid" cause: a rotated key is picked up by its first token (or within
	// one interval), while a flood of forged kids costs the issuer one request per interval.
	KeyRefetchInterval time.Duration
	// KeySetMaxAge is how long a fetched key set is trusted before it is fetched again, so
	// that a key the issuer withdrew (after a leak) stops verifying tokens.
	KeySetMaxAge time.Duration
	// HTTPTimeout bounds one discovery or key set request.
	HTTPTimeout time.Duration
	// Now is the component's one clock: token times, cache expiry and refetch spacing.
	Now func() time.Time
}

// Defaults. DefaultDevIssuer and DefaultDevAudience are what `allot token` and a node in
// ModeDev agree on when neither is given.
const (
	DefaultDevIssuer          = "http://localhost:8080"
	DefaultDevAudience        = "allot"
	DefaultRolesClaim         = "roles"
	DefaultUserClaim          = "sub"
	DefaultClockSkew          = 30 * time.Second
	MaxClockSkew              = 5 * time.Minute
	DefaultCacheSize          = 100_000
	DefaultCacheIdle          = time.Minute
	DefaultMaxTokenBytes      = 16 << 10
	DefaultKeyRefetchInterval = 10 * time.Second
	DefaultKeySetMaxAge       = time.Hour
	DefaultHTTPTimeout        = 10 * time.Second
)

// DefaultConfig returns the configuration of a node in dev mode; for an external provider set
// Mode to ModeOIDC and Issuer, Audience and the claims to the provider's.
func DefaultConfig() Config {
	return Config{
		Mode:               ModeDev,
		Issuer:             DefaultDevIssuer,
		Audience:           DefaultDevAudience,
		RolesClaim:         DefaultRolesClaim,
		UserClaim:          DefaultUserClaim,
		ClockSkew:          DefaultClockSkew,
		CacheSize:          DefaultCacheSize,
		CacheIdle:          DefaultCacheIdle,
		MaxTokenBytes:      DefaultMaxTokenBytes,
		KeyRefetchInterval: DefaultKeyRefetchInterval,
		KeySetMaxAge:       DefaultKeySetMaxAge,
		HTTPTimeout:        DefaultHTTPTimeout,
		Now:                time.Now,
	}
}

// validate reports the first unusable field, wrapping ErrConfig.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch {
	case c.Mode != ModeOIDC && c.Mode != ModeDev:
		return bad("mode %q is neither %q nor %q", c.Mode, ModeOIDC, ModeDev)
	case c.Audience == "":
		return bad("an audience is required")
	case !validPath(c.RolesClaim):
		return bad("roles claim %q is not a dotted claim path", c.RolesClaim)
	case !validPath(c.UserClaim):
		return bad("user claim %q is not a dotted claim path", c.UserClaim)
	case c.MFAClaim != "" && !validPath(c.MFAClaim):
		return bad("MFA claim %q is not a dotted claim path", c.MFAClaim)
	case c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew:
		return bad("clock skew %v is not within [0, %v]", c.ClockSkew, MaxClockSkew)
	case c.CacheSize < 0 || c.CacheIdle < 0:
		return bad("cache size and cache idle time must not be negative")
	case c.MaxTokenBytes <= 0:
		return bad("max token bytes must be positive")
	case c.KeyRefetchInterval <= 0 || c.KeySetMaxAge < c.KeyRefetchInterval || c.HTTPTimeout <= 0:
		return bad("key refetch interval and HTTP timeout must be positive, and the key set's max age at least the refetch interval")
	case c.Now == nil:
		return bad("a clock is required")
	}
	return validIssuer(c.Issuer)
}

// validIssuer accepts an absolute https URL, or http on a loopback host: tokens from an
// issuer reached in clear text could be forged by anyone on the path to it.
func validIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: issuer %q is not an absolute URL without query", ErrConfig, issuer)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%w: issuer %q must use https (http only on a loopback host)", ErrConfig, issuer)
}

// validPath reports whether p is a dotted claim path with no empty segment.
func validPath(p string) bool {
	if p == "" {
		return false
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return false
		}
	}
	return true
}

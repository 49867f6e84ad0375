package auth

import (
	"slices"
	"strings"
	"time"
)

// Role is what a signed-in user may do. Every valid token is a customer; the provider grants
// operator and admin in the roles claim.
type Role string

const (
	RoleCustomer Role = "customer" // acts on their own holds
	RoleOperator Role = "operator" // manages resources and reads their holds (with MFA)
	RoleAdmin    Role = "admin"    // manages the cluster and its integrations (with MFA)
)

// ScopePIIRead lets an operator see guests' contact details unmasked.
const ScopePIIRead = "pii:read"

// Principal is who a verified token speaks for. A Principal returned by the Verifier is shared
// by every request carrying the same token: treat it, and its slices, as read-only.
type Principal struct {
	// Subject is the user's id at the provider (Config.UserClaim); holds belong to it.
	Subject string
	// Roles always holds RoleCustomer, plus operator or admin when the token grants them.
	Roles []Role
	// MFA is true when the token proves a second factor (see Config.MFAACR, MFAClaim).
	MFA bool
	// Scopes are the OAuth scopes granted ("scope" or "scp").
	Scopes []string
	// Email and Phone are the user's contact claims, if the token carries them. They are
	// personal data: never log them.
	Email string
	Phone string
	// Expiry is when the token stops being accepted (its "exp" plus the clock skew).
	Expiry time.Time
}

// HasRole reports whether p holds r.
func (p *Principal) HasRole(r Role) bool { return p != nil && slices.Contains(p.Roles, r) }

// HasScope reports whether p was granted scope s.
func (p *Principal) HasScope(s string) bool { return p != nil && slices.Contains(p.Scopes, s) }

// principalFromClaims reads a principal from verified claims. expiry is already checked.
func principalFromClaims(claims map[string]any, cfg *Config, expiry time.Time) (*Principal, error) {
	sub, _ := lookup(claims, cfg.UserClaim).(string)
	if sub == "" {
		return nil, refuse(ErrNoSubject)
	}
	p := &Principal{Subject: sub, Roles: []Role{RoleCustomer}, Expiry: expiry}
	for _, r := range stringsOf(lookup(claims, cfg.RolesClaim)) {
		switch role := Role(r); role {
		case RoleOperator, RoleAdmin:
			if !slices.Contains(p.Roles, role) {
				p.Roles = append(p.Roles, role)
			}
		}
	}
	p.MFA = provesMFA(claims, cfg)
	p.Scopes = stringsOf(claims["scope"])
	if p.Scopes == nil {
		p.Scopes = stringsOf(claims["scp"])
	}
	p.Email, _ = claims["email"].(string)
	p.Phone, _ = claims["phone_number"].(string)
	return p, nil
}

// provesMFA reports whether the claims prove a second factor: an RFC 8176 amr value, the
// configured acr, or the configured MFA claim present and not empty.
func provesMFA(claims map[string]any, cfg *Config) bool {
	for _, m := range stringsOf(claims["amr"]) {
		switch m { // RFC 8176 methods that are, or include, a second factor
		case "mfa", "otp", "hwk", "swk", "sms":
			return true
		}
	}
	if acr, _ := claims["acr"].(string); cfg.MFAACR != "" && acr == cfg.MFAACR {
		return true
	}
	if cfg.MFAClaim != "" {
		switch v := lookup(claims, cfg.MFAClaim).(type) {
		case nil:
		case string:
			return v != ""
		case bool:
			return v
		default:
			return true
		}
	}
	return false
}

// lookup follows a dotted path through nested JSON objects. A top-level claim whose name
// contains dots (Auth0's namespaced "https://example.com/roles") is found as it is first.
func lookup(claims map[string]any, path string) any {
	if v, ok := claims[path]; ok {
		return v
	}
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

// stringsOf reads a claim that is an array of strings or one space-separated string (OAuth's
// "scope"). Other values, and non-string array members, are ignored.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

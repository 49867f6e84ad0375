package auth

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, edit := range map[string]func(*Config){
		"mode":                func(c *Config) { c.Mode = "ldap" },
		"no issuer":           func(c *Config) { c.Issuer = "" },
		"relative issuer":     func(c *Config) { c.Issuer = "/issuer" },
		"plain http":          func(c *Config) { c.Issuer = "http://idp.example" },
		"issuer with query":   func(c *Config) { c.Issuer = "https://idp.example/?x=1" },
		"no audience":         func(c *Config) { c.Audience = "" },
		"empty roles path":    func(c *Config) { c.RolesClaim = "" },
		"bad roles path":      func(c *Config) { c.RolesClaim = "realm_access..roles" },
		"bad user path":       func(c *Config) { c.UserClaim = "." },
		"bad MFA path":        func(c *Config) { c.MFAClaim = "firebase." },
		"negative skew":       func(c *Config) { c.ClockSkew = -time.Second },
		"huge skew":           func(c *Config) { c.ClockSkew = time.Hour },
		"negative cache":      func(c *Config) { c.CacheSize = -1 },
		"no token bytes":      func(c *Config) { c.MaxTokenBytes = 0 },
		"no refetch interval": func(c *Config) { c.KeyRefetchInterval = 0 },
		"max age < interval":  func(c *Config) { c.KeySetMaxAge = time.Second },
		"no HTTP timeout":     func(c *Config) { c.HTTPTimeout = 0 },
		"no clock":            func(c *Config) { c.Now = nil },
	} {
		c := DefaultConfig()
		edit(&c)
		if err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, issuer := range []string{"https://idp.example", "https://securetoken.google.com/p-1", "http://127.0.0.1:8080", "http://[::1]:9000/realms/x", "http://localhost:8080"} {
		c := DefaultConfig()
		c.Issuer = issuer
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
}

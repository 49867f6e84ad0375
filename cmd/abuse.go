package cmd

import (
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/ratelimit"
)

// Abuse control of a node (issue 11): the rate limits of the edge (api/ratelimit), the
// negative cache of unknown resources and the cap on active resource actors. The flags,
// defaults and checks are in config.go's abuse-control block.

// --rate-limits values.
const (
	rateLimitsOn  = "on"
	rateLimitsOff = "off"
)

// DefaultMaxActiveResources bounds the resource actors of a node: an idle activation costs
// about 10 KB, so the cap keeps a flood of activations under about 500 MB.
const DefaultMaxActiveResources = 50_000

// limitFlag is a rate-limit flag in ratelimit.ParseLimit's syntax ("20/1s:40").
type limitFlag struct{ l *ratelimit.Limit }

func (f limitFlag) String() string {
	if f.l == nil || f.l.Count == 0 {
		return ""
	}
	return f.l.String()
}

func (f limitFlag) Set(s string) error {
	l, err := ratelimit.ParseLimit(s)
	if err != nil {
		return err
	}
	*f.l = l
	return nil
}

// rateLimitConfig is the edge's ratelimit.Config; the api server supplies its registry and
// clock.
func (c *NodeConfig) rateLimitConfig() *ratelimit.Config {
	rc := ratelimit.DefaultConfig()
	rc.Off = c.RateLimits == rateLimitsOff
	rc.Subject, rc.Anonymous = c.RateLimitSubject, c.RateLimitAnonymous
	rc.Holds, rc.AuthFailures = c.RateLimitHolds, c.RateLimitAuthFailures
	rc.MaxKeys = c.RateLimitMaxKeys
	rc.TrustedProxies = c.Transport.TrustedProxies
	rc.Now = nil // the server's clock
	return &rc
}

// withAbuseControl sets the edge's rate limits and unknown-resource cache in cfg.
func (c *NodeConfig) withAbuseControl(cfg api.Config) api.Config {
	cfg.RateLimits = c.rateLimitConfig()
	cfg.UnknownResourceTTL, cfg.UnknownResources = c.UnknownResourceTTL, c.UnknownResources
	if c.UnknownResourceTTL == 0 {
		cfg.UnknownResourceTTL = -1 // off; api's zero means its default
	}
	return cfg
}

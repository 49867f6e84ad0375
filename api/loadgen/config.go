package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Scenarios Run can play.
const (
	// ScenarioFlashSale: every client holds one unit of one hot resource (Stock units in one
	// bucket "all"), then confirms it (or cancels a CancelRatio fraction), until it is answered
	// sold_out or a bound is reached.
	ScenarioFlashSale = "flash-sale"
	// ScenarioHotel: Resources hotels with Days nightly buckets of Rooms rooms each; clients
	// hold 1..Nights consecutive nights of a random hotel, then confirm or cancel.
	ScenarioHotel = "hotel"
	// ScenarioBrowse: clients read the availability of random hotels.
	ScenarioBrowse = "browse"
	// ScenarioMixed: 15% flash-sale sessions (while the hot resource lasts), 35% hotel
	// sessions, 50% availability reads.
	ScenarioMixed = "mixed"
	// ScenarioStress: hold-only flash-sale clients on one hot resource (hotel holds over a
	// growing set of resources when StressResourcesStep > 0), ramped step by step until the
	// p99 of holds passes SLOP99 or the error rate passes MaxErrorRate; see RunStress.
	ScenarioStress = "stress"
)

// Config configures one load run. Start from DefaultConfig; Run validates it.
type Config struct {
	// Targets are base URLs of Allot nodes ("http://127.0.0.1:8080"). Requests are spread
	// over them round-robin, as a load balancer would; a retry goes to the next target.
	Targets []string
	// Scenario is one of the Scenario constants.
	Scenario string
	// Clients is the number of concurrent simulated mobile clients (closed loop: each waits
	// for its answer, then ThinkTime, before its next request).
	Clients int
	// Duration bounds the load phase: no session starts after it. 0 means no time bound.
	Duration time.Duration
	// Requests bounds the logical requests issued (retries not counted): no session starts
	// once this many were issued. A session in progress (the confirm or cancel of a hold the
	// client got) is completed, so the total may exceed Requests by up to Clients. 0 means no
	// bound. Hotel, browse and mixed need Duration or Requests; flash-sale also ends when
	// every client was answered sold_out.
	Requests int64
	// Stock is the flash-sale stock S: the capacity of the hot resource's one bucket.
	Stock int64
	// Resources is the number of hotels (hotel, browse and mixed scenarios).
	Resources int
	// Rooms is the capacity of each night of each hotel.
	Rooms int64
	// Days is the number of nightly buckets of each hotel, starting tomorrow (UTC).
	Days int
	// Nights is the longest stay a hotel hold asks for (1..Nights consecutive nights).
	Nights int
	// HoldOnly ends every session with its hold: no confirm or cancel. It is the workload
	// that the baselines of package api/baseline (which implement holds only) serve too.
	HoldOnly bool
	// CancelRatio is the fraction of acknowledged holds that clients cancel instead of
	// confirming.
	CancelRatio float64
	// ThinkTime is the mean pause of a client between two requests (uniform in 0.5x..1.5x).
	ThinkTime time.Duration
	// Timeout bounds one HTTP attempt.
	Timeout time.Duration
	// MaxRetries is how often a request answered 429 or 503, or failed in transport, is
	// retried with the same Idempotency-Key.
	MaxRetries int
	// MaxRetryWait caps the wait before a retry, whatever Retry-After asks for.
	MaxRetryWait time.Duration
	// ResourcePrefix and RunID make this run's resource ids unique:
	// <prefix>-<run-id>-flash and <prefix>-<run-id>-hotel-NNNN. An empty RunID is generated.
	ResourcePrefix string
	RunID          string
	// Seed seeds each client's random choices (client i uses Seed and i).
	Seed uint64
	// Quiet disables progress output.
	Quiet bool
	// ProgressEvery is how often a progress line is printed when the progress writer is not
	// a terminal (a log, CI); on a terminal one live line is rewritten every second.
	ProgressEvery time.Duration
	// JSONPath, if set, is where Command writes the report as JSON.
	JSONPath string
	// NoAudit skips the audit, for targets that store nothing (the empty baseline of package
	// api/baseline). Command then exits 0 although Audit.OK is false.
	NoAudit bool
	// DBURL, if set, is the PostgreSQL/CockroachDB URL of the cluster's database; the audit
	// then also checks the holds and buckets tables.
	DBURL string
	// KeyFile is the dev signing key of the nodes (`allot node --key-file`, or
	// <data-dir>/dev-signing-key.pem): each simulated client then carries a token of its own
	// user, and the run's own calls an operator's. DataDir names a node's data dir instead
	// (`make run`: ./data). TokenFile instead gives one token for every request. None of the
	// three: no tokens (a baseline).
	KeyFile   string
	DataDir   string
	TokenFile string
	// Issuer and Audience are those the nodes expect of dev tokens; empty means api/auth's
	// dev defaults.
	Issuer   string
	Audience string

	// The stress scenario (ScenarioStress). Step i runs StressStepDuration with clients
	// c(0) = StressStartClients, c(i+1) = max(c(i)+StressStepClients, ceil(c(i)*StressGrowth)),
	// until a step breaks the SLO or c(i) would pass StressMaxClients. Clients, Duration,
	// Requests, Stock and HoldOnly are ignored: every step is hold-only on resources that never
	// sell out.
	StressStartClients int
	StressStepClients  int
	StressGrowth       float64
	StressStepDuration time.Duration
	StressMaxClients   int
	// StressWarmup is a run of StressStartClients before the first step, not reported: the
	// first step then does not measure the node's (and the store's) cold start. 0: none.
	StressWarmup time.Duration
	// StressStartResources and StressResourcesStep grow the resources with the clients: with
	// StressResourcesStep 0 every step holds one hot resource (the limit of one resource);
	// otherwise step i spreads hotel holds over StressStartResources+i*StressResourcesStep
	// resources.
	StressStartResources int
	StressResourcesStep  int
	// SLOP99 and MaxErrorRate are the SLO: a step whose hold p99 is above SLOP99 or whose
	// failed requests are more than MaxErrorRate of its requests breaks it.
	SLOP99       time.Duration
	MaxErrorRate float64
	// MetricsURLs are the nodes' Prometheus endpoints (their --admin-addr, plus /metrics):
	// without them the report cannot say which limit of the node broke first.
	MetricsURLs []string
	// NodeCores is the CPU cores of each node, for its CPU utilisation; 0 means the nodes
	// run on this machine (runtime.NumCPU()).
	NodeCores int
	// Progress prints each stress step on the progress writer as it finishes.
	Progress bool
}

// DefaultConfig returns the defaults documented on each flag.
func DefaultConfig() Config {
	return Config{
		Targets:        []string{"http://127.0.0.1:8080"},
		Scenario:       ScenarioFlashSale,
		Clients:        64,
		Duration:       30 * time.Second,
		Stock:          10000,
		Resources:      100,
		Rooms:          20,
		Days:           30,
		Nights:         3,
		CancelRatio:    0.1,
		Timeout:        5 * time.Second,
		MaxRetries:     5,
		MaxRetryWait:   2 * time.Second,
		ResourcePrefix: "loadgen",
		Seed:           1,
		ProgressEvery:  10 * time.Second,

		StressStartClients:   8,
		StressStepClients:    8,
		StressGrowth:         2,
		StressStepDuration:   10 * time.Second,
		StressMaxClients:     1024,
		StressWarmup:         2 * time.Second,
		StressStartResources: 1,
		SLOP99:               100 * time.Millisecond,
		MaxErrorRate:         0.01,
	}
}

// RegisterFlags registers the load generator's flags on fs, with c's current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("target", "comma-separated base URLs of Allot nodes, used round-robin (default "+strings.Join(c.Targets, ",")+")", func(s string) error {
		c.Targets = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Targets = append(c.Targets, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "flash-sale, hotel, browse, mixed or stress")
	fs.IntVar(&c.Clients, "clients", c.Clients, "concurrent simulated clients")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "no session starts after this long (0: no time bound)")
	fs.Int64Var(&c.Requests, "requests", c.Requests, "no session starts after this many requests (0: no bound)")
	fs.Int64Var(&c.Stock, "stock", c.Stock, "flash-sale stock: capacity of the hot resource")
	fs.IntVar(&c.Resources, "resources", c.Resources, "hotels (hotel, browse, mixed)")
	fs.Int64Var(&c.Rooms, "rooms", c.Rooms, "rooms per night of each hotel")
	fs.IntVar(&c.Days, "days", c.Days, "nightly buckets per hotel, from tomorrow")
	fs.IntVar(&c.Nights, "nights", c.Nights, "longest stay of a hotel hold, in nights")
	fs.BoolVar(&c.HoldOnly, "hold-only", c.HoldOnly, "end sessions with the hold: no confirm or cancel (the baselines' workload)")
	fs.Float64Var(&c.CancelRatio, "cancel-ratio", c.CancelRatio, "fraction of holds cancelled instead of confirmed")
	fs.DurationVar(&c.ThinkTime, "think", c.ThinkTime, "mean pause of a client between requests")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "timeout of one HTTP attempt")
	fs.IntVar(&c.MaxRetries, "retries", c.MaxRetries, "retries of a request answered 429/503 or failed in transport")
	fs.DurationVar(&c.MaxRetryWait, "max-retry-wait", c.MaxRetryWait, "cap on the wait before a retry (Retry-After included)")
	fs.StringVar(&c.ResourcePrefix, "resource-prefix", c.ResourcePrefix, "prefix of the resource ids this run creates")
	fs.StringVar(&c.RunID, "run-id", c.RunID, "unique id of this run, part of resource ids (default: random)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the clients' random choices")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "no progress output")
	fs.DurationVar(&c.ProgressEvery, "progress-every", c.ProgressEvery, "interval of the progress lines when stderr is not a terminal")
	fs.StringVar(&c.JSONPath, "json", c.JSONPath, "write the report as JSON to this file")
	fs.BoolVar(&c.NoAudit, "no-audit", c.NoAudit, "skip the audit (for a target that stores nothing)")
	fs.StringVar(&c.DBURL, "db-url", c.DBURL, "PostgreSQL/CockroachDB URL of the cluster's database, to audit its tables too")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "the nodes' dev signing key: every client gets a token of its own user")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "a node's data dir holding its dev signing key (make run: ./data), instead of --key-file")
	fs.StringVar(&c.TokenFile, "token-file", c.TokenFile, "a file holding one bearer token for every request (an operator's, to create the run's resources)")
	fs.StringVar(&c.Issuer, "oidc-issuer", c.Issuer, "the issuer the nodes expect of dev tokens (default: the dev issuer's)")
	fs.StringVar(&c.Audience, "oidc-audience", c.Audience, "the audience the nodes expect of dev tokens (default: the dev audience)")
	// The stress scenario.
	fs.IntVar(&c.StressStartClients, "stress-start", c.StressStartClients, "stress: clients of the first step")
	fs.IntVar(&c.StressStepClients, "stress-step", c.StressStepClients, "stress: clients added per step, at least")
	fs.Float64Var(&c.StressGrowth, "stress-growth", c.StressGrowth, "stress: clients multiplied per step, at least (1: add --stress-step only)")
	fs.DurationVar(&c.StressStepDuration, "stress-step-duration", c.StressStepDuration, "stress: duration of one step")
	fs.IntVar(&c.StressMaxClients, "stress-max-clients", c.StressMaxClients, "stress: no step has more clients")
	fs.DurationVar(&c.StressWarmup, "stress-warmup", c.StressWarmup, "stress: unreported run of --stress-start clients before the first step (0: none)")
	fs.IntVar(&c.StressStartResources, "stress-resources", c.StressStartResources, "stress: resources of the first step when --stress-resources-step > 0")
	fs.IntVar(&c.StressResourcesStep, "stress-resources-step", c.StressResourcesStep, "stress: resources added per step (0: one hot resource throughout)")
	fs.DurationVar(&c.SLOP99, "slo-p99", c.SLOP99, "stress: a step whose hold p99 is above this breaks the SLO")
	fs.Float64Var(&c.MaxErrorRate, "max-error-rate", c.MaxErrorRate, "stress: a step with a larger fraction of failed requests breaks the SLO")
	fs.Func("metrics", "stress: comma-separated /metrics URLs of the nodes' admin listeners (http://127.0.0.1:9090/metrics), to name the limit that broke", func(s string) error {
		c.MetricsURLs = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.MetricsURLs = append(c.MetricsURLs, p)
			}
		}
		return nil
	})
	fs.IntVar(&c.NodeCores, "node-cores", c.NodeCores, "stress: CPU cores of each node (0: the nodes run on this machine)")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "stress: print each step as it finishes")
}

// ErrInvalidConfig is wrapped by Run when the Config is not acceptable.
var ErrInvalidConfig = errors.New("invalid load generator config")

func (c *Config) validate() error {
	if len(c.Targets) == 0 {
		return errors.New("--target is required")
	}
	for _, t := range c.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--target %q: want a base URL like http://127.0.0.1:8080", t)
		}
	}
	switch c.Scenario {
	case ScenarioFlashSale:
	case ScenarioStress:
		if err := c.validateStress(); err != nil {
			return err
		}
	case ScenarioHotel, ScenarioBrowse, ScenarioMixed:
		if c.Duration == 0 && c.Requests == 0 {
			return fmt.Errorf("scenario %s needs --duration or --requests", c.Scenario)
		}
	default:
		return fmt.Errorf("--scenario %q: want flash-sale, hotel, browse, mixed or stress", c.Scenario)
	}
	switch {
	case c.Clients < 1:
		return errors.New("--clients must be at least 1")
	case c.Duration < 0 || c.Requests < 0:
		return errors.New("--duration and --requests must not be negative")
	case c.usesFlash() && c.Stock < 1:
		return errors.New("--stock must be at least 1")
	case c.usesHotels() && (c.Resources < 1 || c.Rooms < 1 || c.Days < 1):
		return errors.New("--resources, --rooms and --days must be at least 1")
	case c.usesHotels() && (c.Nights < 1 || c.Nights > c.Days || c.Nights > 62):
		return errors.New("--nights must be between 1 and min(--days, 62)")
	case c.CancelRatio < 0 || c.CancelRatio > 1:
		return errors.New("--cancel-ratio must be between 0 and 1")
	case c.ThinkTime < 0:
		return errors.New("--think must not be negative")
	case c.Timeout <= 0 || c.MaxRetryWait < 0:
		return errors.New("--timeout must be positive and --max-retry-wait not negative")
	case c.ProgressEvery <= 0:
		return errors.New("--progress-every must be positive")
	case c.MaxRetries < 0:
		return errors.New("--retries must not be negative")
	case c.ResourcePrefix == "" || strings.ContainsAny(c.ResourcePrefix+c.RunID, "/?#% "):
		return errors.New("--resource-prefix and --run-id must be non-empty URL-safe ids")
	case c.TokenFile != "" && (c.KeyFile != "" || c.DataDir != ""):
		return errors.New("--token-file excludes --key-file and --data-dir")
	case c.KeyFile != "" && c.DataDir != "":
		return errors.New("give --key-file or --data-dir, not both")
	}
	return nil
}

// validateStress checks the stress scenario's fields.
func (c *Config) validateStress() error {
	switch {
	case c.StressStartClients < 1 || c.StressMaxClients < c.StressStartClients:
		return errors.New("--stress-start must be at least 1 and at most --stress-max-clients")
	case c.StressStepClients < 0 || c.StressGrowth < 1 || (c.StressStepClients == 0 && c.StressGrowth == 1):
		return errors.New("--stress-step must not be negative and --stress-growth not below 1, and one of them must grow the clients")
	case c.StressStepDuration < time.Second || c.StressWarmup < 0:
		return errors.New("--stress-step-duration must be at least 1s and --stress-warmup not negative")
	case c.StressStartResources < 1 || c.StressResourcesStep < 0:
		return errors.New("--stress-resources must be at least 1 and --stress-resources-step not negative")
	case c.SLOP99 <= 0:
		return errors.New("--slo-p99 must be positive")
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return errors.New("--max-error-rate must be between 0 and 1")
	case c.NodeCores < 0:
		return errors.New("--node-cores must not be negative")
	}
	for _, m := range c.MetricsURLs {
		if u, err := url.Parse(m); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--metrics %q: want a URL like http://127.0.0.1:9090/metrics", m)
		}
	}
	return nil
}

func (c *Config) usesFlash() bool {
	return c.Scenario == ScenarioFlashSale || c.Scenario == ScenarioMixed
}

func (c *Config) usesHotels() bool { return c.Scenario != ScenarioFlashSale }

// newRunID returns 8 random hex characters.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

package chaos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config describes one round: a fresh cluster, a workload and a nemesis for Duration, then
// the checks.
type Config struct {
	Seed     int64
	Duration time.Duration // of the fault phase

	Nodes     int
	Resources int   // resources alternate one and two buckets
	Capacity  int64 // per bucket; small, so that sold_out happens

	Clients        int
	Think          time.Duration // max pause between a client's operations
	AttemptTimeout time.Duration // one HTTP attempt
	Budget         time.Duration // all attempts of one operation; then its outcome is unknown
	ShortBudget    time.Duration // budget of one operation in ten (0: all use Budget)

	MinFault, MaxFault time.Duration
	MinGap, MaxGap     time.Duration
	Faults             []FaultKind // restricts the kinds; nil: every available one

	// NATS is how many NATS JetStream servers the round runs for the nodes' events (3 by
	// default: the nats-restart fault and the event stream check); 0 runs none.
	NATS         int
	Net          string        // NetAuto, NetNetns or NetLoopback
	Binary       string        // the allot binary; empty: built from this module
	CheckTimeout time.Duration // porcupine, per check
	// OutDir receives history, visualization, report and logs of every round. Empty: only a
	// round with a failure or finding writes them, to the test's artifact directory.
	OutDir string
}

// DefaultConfig is the short campaign of `go test ./cluster/chaos` (about a minute in all).
func DefaultConfig() Config {
	return Config{
		Seed:           1,
		Duration:       30 * time.Second,
		Nodes:          5,
		Resources:      4,
		Capacity:       6,
		Clients:        8,
		Think:          20 * time.Millisecond,
		AttemptTimeout: 3 * time.Second,
		Budget:         12 * time.Second,
		ShortBudget:    1500 * time.Millisecond,
		MinFault:       3 * time.Second,
		MaxFault:       7 * time.Second,
		MinGap:         500 * time.Millisecond,
		MaxGap:         1500 * time.Millisecond,
		NATS:           3,
		Net:            NetAuto,
		CheckTimeout:   60 * time.Second,
	}
}

func (c Config) validate() error {
	switch {
	case c.Nodes < 3:
		return errors.New("chaos: at least 3 nodes")
	case c.Resources < 1 || c.Capacity < 1 || c.Clients < 1:
		return errors.New("chaos: resources, capacity and clients must be positive")
	case c.Duration <= 0 || c.Budget <= 0 || c.AttemptTimeout <= 0 || c.CheckTimeout <= 0:
		return errors.New("chaos: durations must be positive")
	case c.MaxFault < c.MinFault || c.MaxGap < c.MinGap:
		return errors.New("chaos: max fault/gap below min")
	case c.NATS < 0 || c.NATS > 5:
		return errors.New("chaos: 0 to 5 NATS servers")
	case c.Net != NetAuto && c.Net != NetNetns && c.Net != NetLoopback:
		return fmt.Errorf("chaos: network mode %q: want auto, netns or loopback", c.Net)
	}
	for _, k := range c.Faults {
		known := false
		for _, a := range AllFaults {
			known = known || a == k
		}
		if !known {
			return fmt.Errorf("chaos: unknown fault %q (known: %v)", k, AllFaults)
		}
	}
	return nil
}

// Environment variables of the test (see RELIABILITY.md).
const (
	EnvSeed     = "ALLOT_CHAOS_SEED"     // seed of the first round (default 1)
	EnvDuration = "ALLOT_CHAOS_DURATION" // total fault time over all rounds (default 30s)
	EnvRound    = "ALLOT_CHAOS_ROUND"    // fault time of one round (default 2m)
	EnvOut      = "ALLOT_CHAOS_OUT"      // keep every round's artifacts here
	EnvNet      = "ALLOT_CHAOS_NET"      // auto (default), netns or loopback
	EnvFaults   = "ALLOT_CHAOS_FAULTS"   // comma-separated fault kinds to inject
	EnvRecheck  = "ALLOT_CHAOS_RECHECK"  // an artifact directory to check again (TestRecheckHistory)
	EnvBin      = "ALLOT_CHAOS_BIN"      // run this allot binary instead of building ./cmd/allot
	EnvNATS     = "ALLOT_CHAOS_NATS"     // NATS servers for the events (default 3; 0: none)
	EnvSettle   = "ALLOT_CHAOS_SETTLE"   // non-empty: run TestOwnershipSettlesAfterHeal (make chaos)
)

// Plan is a campaign: rounds of at most Round each, Total in all, seeds Seed, Seed+1, ...
type Plan struct {
	Base  Config
	Total time.Duration
	Round time.Duration
}

// PlanFromEnv reads the campaign from the environment (getenv is os.Getenv in tests).
func PlanFromEnv(getenv func(string) string) (Plan, error) {
	p := Plan{Base: DefaultConfig(), Total: 30 * time.Second, Round: 2 * time.Minute}
	var err error
	if v := getenv(EnvSeed); v != "" {
		if p.Base.Seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			return p, fmt.Errorf("%s: %w", EnvSeed, err)
		}
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{{EnvDuration, &p.Total}, {EnvRound, &p.Round}} {
		if v := getenv(d.env); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
				return p, fmt.Errorf("%s=%q: want a positive duration", d.env, v)
			}
		}
	}
	if v := getenv(EnvNATS); v != "" {
		if p.Base.NATS, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("%s: %w", EnvNATS, err)
		}
	}
	p.Base.OutDir = getenv(EnvOut)
	p.Base.Binary = getenv(EnvBin)
	if v := getenv(EnvNet); v != "" {
		p.Base.Net = v
	}
	if v := getenv(EnvFaults); v != "" {
		for _, f := range strings.Split(v, ",") {
			p.Base.Faults = append(p.Base.Faults, FaultKind(strings.TrimSpace(f)))
		}
	}
	if p.Total > p.Round {
		// Long campaigns: longer faults and more time for the checker.
		p.Base.CheckTimeout = 3 * time.Minute
	}
	return p, p.Base.validate()
}

// Rounds returns the configuration of every round.
func (p Plan) Rounds() []Config {
	var out []Config
	left := p.Total
	for i := int64(0); left > 0; i++ {
		c := p.Base
		c.Seed = p.Base.Seed + i
		c.Duration = min(left, p.Round)
		left -= c.Duration
		out = append(out, c)
	}
	return out
}

// Replay is the command that runs cfg's round again.
func (c Config) Replay() string {
	s := fmt.Sprintf("%s=%d %s=%s", EnvSeed, c.Seed, EnvDuration, c.Duration)
	if len(c.Faults) > 0 {
		var fs []string
		for _, f := range c.Faults {
			fs = append(fs, string(f))
		}
		s += fmt.Sprintf(" %s=%s", EnvFaults, strings.Join(fs, ","))
	}
	if c.Net != NetAuto {
		s += fmt.Sprintf(" %s=%s", EnvNet, c.Net)
	}
	if c.Binary != "" {
		s += fmt.Sprintf(" %s=%s", EnvBin, c.Binary)
	}
	if c.NATS != DefaultConfig().NATS {
		s += fmt.Sprintf(" %s=%d", EnvNATS, c.NATS)
	}
	return s + " go test -count=1 -v -run 'TestChaos$' ./cluster/chaos"
}

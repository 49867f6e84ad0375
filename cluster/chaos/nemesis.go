package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// FaultKind names a fault the nemesis injects.
type FaultKind string

// Faults. Process faults work everywhere; packet faults need network namespaces and a working
// iptables (and netem its kernel module).
const (
	FaultKill        FaultKind = "kill"              // SIGKILL a node, restart it after a while
	FaultPause       FaultKind = "pause"             // SIGSTOP a node, SIGCONT it after a while
	FaultDBRestart   FaultKind = "db-restart"        // stop (fast or immediate) and restart PostgreSQL
	FaultIsolate     FaultKind = "partition-node"    // one node cut off from its peers (DB and clients reach it)
	FaultIsolateDB   FaultKind = "partition-node-db" // one node cut off from its peers and the database
	FaultSplit       FaultKind = "partition-split"   // two nodes cut off from the other three
	FaultOneWay      FaultKind = "partition-oneway"  // one node stops receiving from (or sending to) its peers
	FaultLoss        FaultKind = "loss"              // one node drops 10-30% of its packets (iptables statistic)
	FaultNetem       FaultKind = "netem"             // one node's packets delayed 50±25ms, 2% lost (tc netem)
	FaultNATSRestart FaultKind = "nats-restart"      // stop (SIGTERM or SIGKILL) and restart one NATS server
	FaultNone        FaultKind = "none"              // no fault active (for attribution)
	defaultSettleMax           = 25 * time.Second
)

// AllFaults lists every fault kind in a fixed order.
var AllFaults = []FaultKind{FaultKill, FaultPause, FaultDBRestart, FaultIsolate, FaultIsolateDB,
	FaultSplit, FaultOneWay, FaultLoss, FaultNetem, FaultNATSRestart}

// AvailableFaults returns the kinds that can be injected with nt (nil: loopback) on a testbed
// with or without an external NATS cluster, and a note for each that cannot.
func AvailableFaults(nt *Net, nats bool) ([]FaultKind, []string) {
	kinds := []FaultKind{FaultKill, FaultPause, FaultDBRestart}
	var notes []string
	if nats {
		kinds = append(kinds, FaultNATSRestart)
	} else {
		notes = append(notes, "no external NATS cluster: no nats-restart fault, no event stream check")
	}
	packet := []FaultKind{FaultIsolate, FaultIsolateDB, FaultSplit, FaultOneWay, FaultLoss}
	switch {
	case nt == nil:
		notes = append(notes, "loopback mode: no network namespaces, so no partitions, loss or netem (process and database faults only)")
		return kinds, notes
	case nt.IPTables == "":
		notes = append(notes, "no working iptables in the namespaces: no partitions or loss")
	default:
		kinds = append(kinds, packet...)
	}
	if nt.Netem {
		kinds = append(kinds, FaultNetem)
	} else {
		notes = append(notes, "netem skipped: "+nt.NetemNote)
	}
	return kinds, notes
}

// FaultEvent is one injected fault. Times are on the history's clock (ns since the round
// started): Start when it was applied, Healed when it was removed (node restarted or resumed,
// rules flushed, database up), Settled when every node saw every other alive again (or the
// nemesis gave up waiting).
type FaultEvent struct {
	Kind      FaultKind `json:"kind"`
	Targets   []string  `json:"targets,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Start     int64     `json:"start"`
	Healed    int64     `json:"healed"`
	Settled   int64     `json:"settled"`
	Converged bool      `json:"converged"`
	Err       string    `json:"err,omitempty"`
}

func (e FaultEvent) String() string {
	s := fmt.Sprintf("%s..%s..%s %s %s", fmtNS(e.Start), fmtNS(e.Healed), fmtNS(e.Settled), e.Kind, strings.Join(e.Targets, ","))
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if !e.Converged {
		s += " [cluster did not converge]"
	}
	if e.Err != "" {
		s += " ERROR: " + e.Err
	}
	return s
}

// Nemesis injects one fault at a time, cycling through Kinds in an order shuffled by Rng, with
// durations and targets drawn from Rng: the schedule is a function of the seed (the timing of
// the system under test is not).
type Nemesis struct {
	Kinds    []FaultKind
	Rng      *rand.Rand
	Nodes    []*clustertest.Node
	Net      *Net // nil in loopback mode
	DB       *pgtest.Server
	DBPort   int
	NATS     *clustertest.NATSCluster // nil: the nodes publish no events
	Clock    func() int64
	Converge func(ctx context.Context, timeout time.Duration) error
	MinFault time.Duration // a fault lasts MinFault..MaxFault
	MaxFault time.Duration
	MinGap   time.Duration // quiet time between faults
	MaxGap   time.Duration
	Logf     func(format string, args ...any)

	mu     sync.Mutex
	events []FaultEvent
}

// Run injects faults until ctx ends, then makes sure everything is healed.
func (n *Nemesis) Run(ctx context.Context) {
	var order []FaultKind
	for ctx.Err() == nil {
		if !sleepCtx(ctx, n.between(n.MinGap, n.MaxGap)) {
			break
		}
		if len(order) == 0 {
			order = append([]FaultKind(nil), n.Kinds...)
			n.Rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		kind := order[0]
		order = order[1:]
		ev := n.inject(ctx, kind)
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.mu.Unlock()
		if n.Logf != nil {
			n.Logf("fault %s", ev)
		}
	}
}

// Events returns the faults injected so far.
func (n *Nemesis) Events() []FaultEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]FaultEvent(nil), n.events...)
}

func (n *Nemesis) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.Rng.Int63n(int64(hi-lo)))
}

// inject applies one fault, waits its duration (cut short when ctx ends), heals it and waits
// for the cluster to converge.
func (n *Nemesis) inject(ctx context.Context, kind FaultKind) FaultEvent {
	ev := FaultEvent{Kind: kind, Start: n.Clock()}
	d := n.between(n.MinFault, n.MaxFault)
	victim := n.Rng.Intn(len(n.Nodes))
	name := n.Nodes[victim].Name
	var err error
	switch kind {
	case FaultKill:
		ev.Targets = []string{name}
		n.Nodes[victim].Kill()
		sleepCtx(ctx, d/2)
		err = n.Nodes[victim].Restart(60 * time.Second)
	case FaultPause:
		ev.Targets = []string{name}
		n.Nodes[victim].Pause()
		sleepCtx(ctx, d)
		n.Nodes[victim].Resume()
	case FaultDBRestart:
		ev.Targets = []string{"postgres"}
		crash := n.Rng.Intn(2) == 0
		if crash {
			ev.Detail = "immediate shutdown (crash), then start with WAL recovery"
			err = n.DB.Crash()
		} else {
			ev.Detail = "fast shutdown, then start"
			err = n.DB.Stop()
		}
		sleepCtx(ctx, d/3)
		if e := n.DB.Start(); e != nil && err == nil {
			err = e
		}
	case FaultNATSRestart:
		err = n.restartNATS(ctx, d, &ev)
	case FaultIsolate, FaultIsolateDB:
		ev.Targets = []string{name}
		err = n.Net.Block(victim, n.Net.PeersOf(victim), Both)
		if err == nil && kind == FaultIsolateDB {
			err = n.Net.BlockPort(victim, n.DBPort)
		}
		err = n.hold(ctx, d, err, victim)
	case FaultSplit:
		perm := n.Rng.Perm(len(n.Nodes))
		minority, majority := perm[:len(perm)/2], perm[len(perm)/2:]
		var majIPs []netip.Addr
		for _, i := range majority {
			majIPs = append(majIPs, n.Net.Nodes[i].IP)
		}
		for _, i := range minority {
			ev.Targets = append(ev.Targets, n.Nodes[i].Name)
			if e := n.Net.Block(i, majIPs, Both); e != nil && err == nil {
				err = e
			}
		}
		ev.Detail = fmt.Sprintf("minority %s", strings.Join(ev.Targets, ","))
		err = n.hold(ctx, d, err, minority...)
	case FaultOneWay:
		ev.Targets = []string{name}
		dir := Incoming
		ev.Detail = name + " receives nothing from its peers (it can send)"
		if n.Rng.Intn(2) == 0 {
			dir = Outgoing
			ev.Detail = name + " sends nothing to its peers (it can receive)"
		}
		err = n.Net.Block(victim, n.Net.PeersOf(victim), dir)
		err = n.hold(ctx, d, err, victim)
	case FaultLoss:
		ev.Targets = []string{name}
		p := 0.1 + 0.2*n.Rng.Float64()
		ev.Detail = fmt.Sprintf("drop %.0f%% of packets both ways", p*100)
		err = n.Net.Lossy(victim, p)
		err = n.hold(ctx, d, err, victim)
	case FaultNetem:
		ev.Targets = []string{name}
		ev.Detail = "netem delay 50ms 25ms loss 2%"
		err = n.Net.NetemOn(victim, "delay 50ms 25ms loss 2%")
		err = n.hold(ctx, d, err, victim)
	default:
		err = fmt.Errorf("unknown fault %q", kind)
	}
	ev.Healed = n.Clock()
	if err != nil {
		ev.Err = err.Error()
	}
	// No fault above leaves a node down. One that exited on its own crashed: a failure,
	// reported with its logs; it is restarted so that the round goes on.
	for _, node := range n.Nodes {
		if node.Running() {
			continue
		}
		msg := fmt.Sprintf("node %s exited unexpectedly; last log lines:\n%s", node.Name, node.LogTail(15))
		if e := node.Restart(60 * time.Second); e != nil {
			msg += "; restart failed: " + e.Error()
		}
		if ev.Err != "" {
			ev.Err += "; "
		}
		ev.Err += msg
	}
	// Converge with a bound of its own: the end of the round must not skip the wait, since
	// the next phase (final reads, audit) wants a healed cluster.
	cctx, cancel := context.WithTimeout(context.Background(), defaultSettleMax)
	ev.Converged = n.Converge(cctx, defaultSettleMax) == nil
	cancel()
	ev.Settled = n.Clock()
	return ev
}

// restartNATS stops one NATS server, gracefully or with SIGKILL (its JetStream files stay),
// keeps it down for d/3 and starts it again, waiting until it is healthy: the streams keep
// their quorum on the other two, the nodes' clients reconnect to them, and the server catches
// up when it is back.
func (n *Nemesis) restartNATS(ctx context.Context, d time.Duration, ev *FaultEvent) error {
	s := n.NATS.Servers[n.Rng.Intn(len(n.NATS.Servers))]
	ev.Targets = []string{s.Name}
	if n.Rng.Intn(2) == 0 {
		ev.Detail = "SIGKILL, then start"
		s.Kill()
	} else {
		ev.Detail = "SIGTERM, then start"
		s.Stop(10 * time.Second)
	}
	sleepCtx(ctx, d/3)
	if err := s.Start(); err != nil {
		return err
	}
	return s.Ready(60 * time.Second)
}

// hold keeps a packet fault for d (unless applying it failed) and then heals the nodes.
func (n *Nemesis) hold(ctx context.Context, d time.Duration, applyErr error, nodes ...int) error {
	if applyErr == nil {
		sleepCtx(ctx, d)
	}
	err := applyErr
	for _, i := range nodes {
		if e := n.Net.Heal(i); e != nil && err == nil {
			err = e
		}
	}
	return err
}

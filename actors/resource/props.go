package resource

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/ctxext"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/protos"
)

// KindName is the cluster kind of resource actors; the cluster identity is the resource id.
const KindName = "resource"

// Kind returns the cluster kind KindName. It panics if cfg is invalid: a node's kinds are built
// once at start-up, where a bad configuration must stop the process.
//
// The kind is made without cluster.NewKind's receiver middleware: a receiver middleware makes
// protoactor give every actor context its "extras" (a struct of children, watchers, stash,
// timers and an extensions slice: about 180 bytes per active resource), and the middleware
// only reads the identity from those extensions to announce the activation's stop. The actor
// keeps its identity itself (the placement actor hands it over, ClusterIdentified) and
// announces its stop itself (terminating: the ActivationTerminating the placement actor
// counts activations out by, and the PID cache's entry removed).
func Kind(cfg Config) *cluster.Kind {
	return &cluster.Kind{Kind: KindName, Props: Props(cfg)}
}

// Props returns the props of a resource actor spawned by the cluster: the placement actor
// hands the actor its cluster identity, whose Identity is the resource id (ClusterIdentified;
// an identity set with cluster.WithClusterIdentity is read when it starts). It panics if cfg
// is invalid.
func Props(cfg Config) *actor.Props {
	return props(cfg, "", produce)
}

// PropsFor returns the props of a plain (non-cluster) actor for resourceID, for tests and
// benchmarks. It panics if cfg is invalid.
func PropsFor(cfg Config, resourceID string) *actor.Props {
	if resourceID == "" {
		panic("resource: PropsFor needs a resource id")
	}
	return props(cfg, resourceID, produce)
}

// produce makes the actor of one activation.
func produce(cfg *Config, resourceID string, q *mailboxCounter) actor.Actor {
	return newActor(cfg, resourceID, q)
}

func props(c Config, resourceID string, produce func(*Config, string, *mailboxCounter) actor.Actor) *actor.Props {
	if err := c.validate(); err != nil {
		panic(err)
	}
	if c.active == nil { // tests set their own to look at it
		c.active = newActiveSet(c.MaxActive)
	}
	if c.readies == nil {
		c.readies = activation.NewReadies()
	}
	if c.wakes == nil {
		c.wakes = newWakeups(c.Now, c.AfterFunc)
	}
	if c.core == nil {
		c.core = c.coreConfig()
	}
	c.Logger = c.logger() // one for every activation (an actor keeps none of its own)
	cfg := &c             // one copy for every activation: an actor keeps a pointer, not its own copy
	// Each activation gets its own mailbox counter, shared by the actor (admission) and by
	// its mailbox (which counts commands posted and taken). The props are one for every
	// activation (an actor context keeps its props for life: a clone per activation was
	// about 300 bytes of Props and middleware chains per active resource), so the spawn
	// function hands the counter to the mailbox producer and to an init that gives it to the
	// actor (adopt: protoactor has run the producer by then). The context's extensions are
	// not used for it: an actor context makes its extensions on first use (about 180 bytes
	// of "extras", see Kind). Only an actor that panics leaves the counter there, for the
	// fresh instance (bequeath: a restart keeps the context, runs the producer again and runs
	// no init). spawning is set only within a spawn, under its lock: protoactor makes the
	// mailbox and runs the inits within the spawn, on the spawning goroutine.
	//
	// The mailbox is this package's (mailbox.go), with the counter inside it: protoactor's
	// lock-free one kept about 215 bytes per idle activation (the mailbox, two queues, the
	// node each keeps after its last message, a middleware slice, the counter on its own),
	// this one 64, with the dispatcher, the metrics and a pool of queues shared by the
	// kind's mailboxes (docs/PERFORMANCE.md, "Round 10" and "Round 15"). Before it, the
	// lock-free one had replaced Unbounded's ring (a 10-slot ring of interfaces from the
	// start, about 240 bytes; docs/ARCHITECTURE.md, "Memory per resource").
	dispatcher := newWarmDispatcher(300)
	shared := newMailboxShared(dispatcher, cfg.Metrics)
	var spawning struct {
		sync.Mutex
		mb *mailbox
	}
	spawn := func(sys *actor.ActorSystem, id string, p *actor.Props, parent actor.SpawnerContext) (*actor.PID, error) {
		spawning.Lock()
		defer spawning.Unlock()
		spawning.mb = &mailbox{mailboxCounter: mailboxCounter{shared: shared}}
		defer func() { spawning.mb = nil }()
		return actor.DefaultSpawner(sys, id, p, parent)
	}
	return actor.PropsFromProducer(
		func() actor.Actor { return produce(cfg, resourceID, nil) }, // the counter comes from the init
		actor.WithSpawnFunc(spawn),
		actor.WithDispatcher(dispatcher),
		actor.WithMailbox(func() actor.Mailbox { return spawning.mb }),
		actor.WithOnInit(func(ctx actor.Context) { ctx.Actor().(adopter).adopt(&spawning.mb.mailboxCounter) }),
	)
}

// adopter is an actor props' init hands its mailbox counter: a resourceActor, or a test's
// actor that embeds one.
type adopter interface{ adopt(q *mailboxCounter) }

// queueExtension is the context extension under which an activation's mailboxCounter is
// kept (set once, at init: protoactor hands out extension ids at package initialization).
var queueExtension = ctxext.NextContextExtensionID()

// ExtensionID makes a mailboxCounter an actor context extension (see props).
func (q *mailboxCounter) ExtensionID() ctxext.ContextExtensionID { return queueExtension }

// queueOf returns the mailbox counter props stored in ctx's extensions.
func queueOf(ctx actor.Context) *mailboxCounter {
	q, _ := ctx.Get(queueExtension).(*mailboxCounter)
	return q
}

// clusterIdentity returns the actor's cluster identity, or nil for a plain actor.
func clusterIdentity(ctx actor.Context) *cluster.ClusterIdentity {
	ext := ctx.Get((&cluster.ClusterIdentity{}).ExtensionID())
	ci, _ := ext.(*cluster.ClusterIdentity)
	return ci
}

// mailboxCounter counts the commands in one actor's mailbox. It is a mailbox middleware:
// MessagePosted runs on senders' goroutines, MessageReceived on the actor's after the message
// was handled, so while the actor handles a command, that command is still counted.
//
// It also answers the commands that reach a stopped actor: protoactor drops user messages left
// in the mailbox of a stopped actor without a word, which would leave their senders waiting
// for their timeouts. Once the actor has stopped, MessageReceived answers them unavailable.
type mailboxCounter struct {
	n       atomic.Int64
	shared  *mailboxShared // the kind's: its metrics (and, in a mailbox, its dispatcher and queues)
	stopped atomic.Pointer[stoppedReply]
}

// stoppedReply is how a stopped actor's mailbox answers commands.
type stoppedReply struct {
	system *actor.ActorSystem
	reply  *protos.Reply
}

func (q *mailboxCounter) MailboxStarted() {}
func (q *mailboxCounter) MailboxEmpty()   {}

func (q *mailboxCounter) MessagePosted(m any) {
	if isCommand(m) {
		q.n.Add(1)
		q.shared.metrics.depth(1)
	}
}

func (q *mailboxCounter) MessageReceived(m any) {
	if !isCommand(m) {
		return
	}
	q.n.Add(-1)
	q.shared.metrics.depth(-1)
	if sr := q.stopped.Load(); sr != nil {
		if env, ok := m.(*actor.MessageEnvelope); ok && env.Sender != nil {
			q.shared.metrics.rejected(sr.reply.GetError().GetCode())
			sr.system.Root.Send(env.Sender, sr.reply)
		}
	}
}

func isCommand(m any) bool {
	if env, ok := m.(*actor.MessageEnvelope); ok {
		m = env.Message
	}
	_, ok := m.(*protos.Command)
	return ok
}

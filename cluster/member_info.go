package cluster

// MemberStatus is a member's liveness as seen by the local member.
type MemberStatus string

// Member statuses. Only alive and suspect members are part of protoactor's topology.
const (
	// StatusAlive: the member answers probes.
	StatusAlive MemberStatus = "alive"
	// StatusSuspect: this member's own probe of the peer failed and memberlist is waiting
	// for the suspicion timeout (or a refutation). Best effort: suspicions raised only by
	// other members are not visible here until the peer is declared dead.
	StatusSuspect MemberStatus = "suspect"
	// StatusDead: memberlist declared the member failed (no graceful leave).
	StatusDead MemberStatus = "dead"
	// StatusLeft: the member left gracefully. It announces the leave in its gossip
	// metadata just before leaving; if a peer missed that announcement it reports the
	// member as dead instead.
	StatusLeft MemberStatus = "left"
)

// MemberInfo describes one cluster member. It is a value snapshot; slices are not shared
// with the Provider.
type MemberInfo struct {
	// ID is the protoactor member id (the actor system id); it is also the memberlist
	// node name. Unique per process start: a restarted node gets a new ID.
	ID string
	// RemoteAddr is the protoactor remote host:port other members dial.
	RemoteAddr string
	// GossipAddr is the memberlist host:port.
	GossipAddr string
	// Status is the local view of the member's liveness.
	Status MemberStatus
	// Kinds are the cluster kinds the member hosts (including protoactor's internal
	// pub/sub topic kind). Empty for cluster clients.
	Kinds []string
	// Self is true for the local member.
	Self bool
	// Client is true for members started with StartClient: they route requests but host
	// no activations and are never part of the topology.
	Client bool
	// Activations is the number of activations the member hosts. For Self it is the
	// live local count; for peers it is the value last gossiped (refreshed every
	// ProviderConfig.MetaRefreshInterval), so it lags.
	Activations int
}

func (m MemberInfo) clone() MemberInfo {
	m.Kinds = append([]string(nil), m.Kinds...)
	return m
}

package cluster

import "errors"

// Sentinel errors returned (wrapped) by Node and Provider. Match them with errors.Is.
var (
	// ErrTimeout means a request reached the activation that owns the identity (or may
	// have), but no reply arrived before the deadline. The outcome is unknown: the actor
	// may or may not have processed the message.
	ErrTimeout = errors.New("cluster: request timed out")

	// ErrUnavailable means the request was not delivered to any activation: no member
	// hosts the kind, the owner could not be located or activated before the deadline,
	// or this node is not running. Retrying the same message is safe.
	ErrUnavailable = errors.New("cluster: unavailable")

	// ErrStopped is returned by Start on a Node or Provider that has already been
	// stopped. Neither can be restarted: protoactor's actor system is single-use.
	ErrStopped = errors.New("cluster: stopped")
)

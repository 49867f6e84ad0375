package api

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/ratelimit"
)

// stateKey is the gin context key of a request's *edgeState.
const stateKey = "allot.edge"

// edgeState is what the edge learns about one request for its later middleware and handlers:
// its id, its caller, the owner that answered, its client address and when it started. The
// edge's first middleware (Server.front) makes it, one allocation, and keeps it under one gin
// key. It replaces a gin Keys entry each for the request id, the principal and the owner (a
// boxed string or pointer each, and a map write under the Context's lock), the header value
// slices of X-Request-Id and Location, and the client address parsed again by each of the
// three rate-limit layers (issue 17, round 11: CPU per hold at 256 clients).
//
// Invariants: a request's state is reachable only from its Context and from the response
// header map, to which it lends idField and location as value slices; it is never pooled or
// reused, so a header slice net/http still holds after the handler returned never changes.
// Its fields are written on the request's goroutine, in chain order (front, authenticate,
// askOwner, the audit trail after the handler), before they are read; a handler's own
// goroutines must not write them.
type edgeState struct {
	w         edgeWriter // the request's writer from front on: finds the state (stateOf)
	idField   [1]string  // X-Request-Id's value: idField[0] is the request id
	location  [1]string  // Location's value, when a handler answers with one (setLocation)
	principal *auth.Principal
	owner     string    // the member that answered the request's command, for the log
	start     time.Time // when the edge took the request, for the log and the metrics
	deadline  time.Time // the request's deadline, fixed at its first ask (requestDeadline); zero before
	ip        netip.Addr
	ipKnown   bool // ip is set (clientIP)
}

// edgeWriter is the response writer front hands down the chain: gin's (or bodyless's), with
// the request's state beside it, so that stateOf finds the state by a type assertion on
// c.Writer rather than in gin's Keys map under the Context's lock. A request asks for its
// state 7-10 times (the client address for three budgets, the principal, the owner, the
// Location, the log), which cost about 1% of the node's CPU per hold at 256 clients through
// the map (issue 17, round 12). A layer below that wraps the writer again (a HEAD's, a report
// stream's) leaves stateOf to the Keys entry, which front still sets.
type edgeWriter struct {
	gin.ResponseWriter
	st *edgeState
}

// Unwrap lets http.ResponseController reach net/http's writer (deadlines, full duplex).
func (w *edgeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// lendWriter makes c's writer st's edgeWriter around the current one.
func (st *edgeState) lendWriter(c *gin.Context) {
	st.w = edgeWriter{ResponseWriter: c.Writer, st: st}
	c.Writer = &st.w
}

// stateOf returns the request's state, or nil for a Context the edge's chain did not start
// (a handler or middleware used on its own, as by Authenticate's callers and the tests).
func stateOf(c *gin.Context) *edgeState {
	if w, ok := c.Writer.(*edgeWriter); ok {
		return w.st
	}
	v, ok := c.Get(stateKey)
	if !ok {
		return nil
	}
	st, _ := v.(*edgeState)
	return st
}

// setPrincipal records the caller's principal for PrincipalOf.
func setPrincipal(c *gin.Context, p *auth.Principal) {
	if st := stateOf(c); st != nil {
		st.principal = p
		return
	}
	c.Set(principalKey, p)
}

// deadlineKey is the gin context key of the request's deadline when the edge's chain did not
// start the request (requestDeadline).
const deadlineKey = "allot.deadline"

// requestDeadline returns when the request's time is up: Config.RequestTimeout
// (--request-timeout) after its first ask of the cluster, fixed by the first call (now is
// the caller's reading of Config.Now, so that an ask reads the clock once). Every
// later wait of the request on the cluster or a store ends by then: each of askOwner's asks
// (a hold's read, then its command, share it rather than get a fresh timeout each) and the
// audit entry after the handler (with auditGrace). So one request spends at most the flag's
// deadline on the owner however many steps it takes, and no handler outlives its client by
// waiting step after step (round 17: a confirm that read the hold first could take two
// deadlines, and the audit entry after it a third). The clock starts at the first ask, not
// when the edge took the request, so that reading a slow client's body does not eat the
// owner's time (ReadTimeout bounds that).
func (s *Server) requestDeadline(c *gin.Context, now time.Time) time.Time {
	st := stateOf(c)
	if st != nil && !st.deadline.IsZero() {
		return st.deadline
	}
	if st == nil {
		if v, ok := c.Get(deadlineKey); ok {
			if dl, ok := v.(time.Time); ok {
				return dl
			}
		}
	}
	dl := now.Add(s.cfg.RequestTimeout)
	if st != nil {
		st.deadline = dl
	} else {
		c.Set(deadlineKey, dl)
	}
	return dl
}

// setOwner records the member that answered, for the request log.
func setOwner(c *gin.Context, owner string) {
	if st := stateOf(c); st != nil {
		st.owner = owner
		return
	}
	c.Set(ownerKey, owner)
}

// ownerOf returns the member that answered the request's command, "" if none did.
func ownerOf(c *gin.Context) string {
	if st := stateOf(c); st != nil {
		return st.owner
	}
	return c.GetString(ownerKey)
}

// setLocation answers with a Location field of loc, as c.Header("Location", loc) does.
func setLocation(c *gin.Context, loc string) {
	st := stateOf(c)
	if st == nil {
		c.Header("Location", loc)
		return
	}
	st.location[0] = loc
	c.Writer.Header()["Location"] = st.location[:]
}

// limitKey is ratelimit.KeyBy(PrincipalOf, clientIP) with the client address found once per
// request: the auth-failure, request and hold budgets each ask for it. With sameClock (the
// limits run on the server's clock) the key carries the request's start as its time, so that
// the budgets read no clock of their own.
func limitKey(clientIP func(*http.Request) netip.Addr, sameClock bool) ratelimit.KeyFunc {
	byKeys := ratelimit.KeyBy(PrincipalOf, clientIP)
	return func(c *gin.Context) ratelimit.Key {
		st := stateOf(c)
		if st == nil {
			return byKeys(c)
		}
		if !st.ipKnown {
			st.ip, st.ipKnown = clientIP(c.Request), true
		}
		k := ratelimit.Key{IP: st.ip}
		if sameClock {
			k.At = st.start
		}
		if st.principal != nil {
			k.Subject = st.principal.Subject
		}
		return k
	}
}

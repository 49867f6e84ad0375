package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries a request's id: the client's, when it sent a usable one (a proxy's
// or a mobile app's trace id), else one the edge makes. It is echoed on the answer and kept
// in the audit log, so that an operator's report ("my change at 10:02 failed") and the log
// entry can be matched.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds a client's request id; longer ones are replaced.
const maxRequestID = 64

// requestIDFor returns a request's id: the client's X-Request-Id when it is usable, else a
// new random one.
func requestIDFor(h http.Header) string {
	id := h.Get(RequestIDHeader)
	if usableRequestID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	var x [2 * len(b)]byte
	hex.Encode(x[:], b[:])
	return string(x[:]) // one allocation, where hex.EncodeToString makes two
}

// usableRequestID accepts 1 to maxRequestID characters of [A-Za-z0-9._:-]: nothing that
// could forge a log line or carry much.
func usableRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// RequestIDOf returns the request's id (RequestIDHeader); "" outside the edge's chain (the
// admin listener's requests have none).
func RequestIDOf(c *gin.Context) string {
	if st := stateOf(c); st != nil {
		return st.idField[0]
	}
	return ""
}

// keysPool lends each request of the edge a gin Keys map (its edgeState, a problem and its
// cause: Context.Set), cleared and taken back when the request is done. gin makes a map at
// each request's first Set and drops it at the next (Context.reset): a map and its first
// table, about 300 bytes and 2 allocations per request (issue 17, CPU per hold).
//
// Invariant: a lent map is reachable only through its request's Context until reclaim, which
// clears it and sets c.Keys to nil before pooling it, so a late reader of the Context (which
// gin forbids: the Context itself is pooled) sees no keys rather than another request's.
// A map that grew past keysPoolMax entries is dropped, not pooled. Safe for concurrent use.
type keysPool struct{ p sync.Pool }

// keysPoolMax bounds the entries of a map kept for reuse: the edge sets about five.
const keysPoolMax = 16

func (k *keysPool) lend(c *gin.Context) {
	if c.Keys != nil { // set before this middleware (cannot happen: it runs first); keep it
		return
	}
	if m, ok := k.p.Get().(map[any]any); ok {
		c.Keys = m
	}
}

// reclaim takes back c's map. It must run after every handler of c has returned.
func (k *keysPool) reclaim(c *gin.Context) {
	m := c.Keys
	c.Keys = nil
	if m == nil || len(m) > keysPoolMax {
		return
	}
	clear(m)
	k.p.Put(m)
}

package api

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
)

// RequestIDHeader carries a request's id: the client's, when it sent a usable one (a proxy's
// or a mobile app's trace id), else one the edge makes. It is echoed on the answer and kept
// in the audit log, so that an operator's report ("my change at 10:02 failed") and the log
// entry can be matched.
const RequestIDHeader = "X-Request-Id"

// requestIDKey is the gin context key of the request id.
const requestIDKey = "allot.request_id"

// maxRequestID bounds a client's request id; longer ones are replaced.
const maxRequestID = 64

// requestID gives every request its id (RequestIDHeader) before anything else runs.
func requestID(c *gin.Context) {
	id := c.Request.Header.Get(RequestIDHeader)
	if !usableRequestID(id) {
		var b [12]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		var h [2 * len(b)]byte
		hex.Encode(h[:], b[:])
		id = string(h[:]) // one allocation, where hex.EncodeToString makes two
	}
	c.Set(requestIDKey, id)
	c.Header(RequestIDHeader, id)
	c.Next()
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

// RequestIDOf returns the request's id (RequestIDHeader).
func RequestIDOf(c *gin.Context) string { return c.GetString(requestIDKey) }

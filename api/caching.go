package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// HTTP caching of the reads the actors answer (RFC 9111, RFC 9110 section 13): every answer
// carries an ETag, and a request whose If-None-Match names it gets 304 Not Modified without a
// body, so that a CDN or the app's own cache can poll a flash sale's availability cheaply.
//
//   - A resource and its availability are tagged by the resource's version: every committed
//     change (a hold, a confirmation, an expiry, an update) increments it. Availability is
//     public and may be served by a shared cache for Config.AvailabilityMaxAge, and stale
//     for Config.AvailabilityStaleWhileRevalidate more while the cache revalidates; the
//     resource itself is revalidated on every use (no-cache).
//   - A hold is tagged by its updated_at, which every change of the hold moves on; it is
//     private (a user's booking) and revalidated on every use.
//   - Every tagged answer varies by Authorization, so a cache never serves one user's answer to
//     another once answers depend on who asks.
//   - An answer marked stale (X-Allot-Stale: the owner could not confirm it with the store) is
//     not stored by caches at all (no-store): it may be wrong, and must not outlive the outage.

// Defaults of the availability cache lifetime.
const (
	DefaultAvailabilityMaxAge               = time.Second
	DefaultAvailabilityStaleWhileRevalidate = 5 * time.Second
)

// Cache-Control values of the tagged reads.
const (
	cacheRevalidate        = "no-cache"
	cachePrivateRevalidate = "private, no-cache"
	cacheNoStore           = "no-store"
)

// versionTag is the ETag of an answer derived from a resource version.
func versionTag(version uint64) string { return `"v` + strconv.FormatUint(version, 10) + `"` }

// holdTag is the ETag of a hold: its updated_at in Unix milliseconds.
func holdTag(updatedAtMs int64) string { return `"h` + strconv.FormatInt(updatedAtMs, 10) + `"` }

// availabilityCacheControl is the Cache-Control of a current availability answer.
func (s *Server) availabilityCacheControl() string {
	return "public, max-age=" + seconds(s.cfg.AvailabilityMaxAge) +
		", stale-while-revalidate=" + seconds(s.cfg.AvailabilityStaleWhileRevalidate)
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// writeTagged answers a read with v and its cache headers, or with 304 Not Modified when the
// request's If-None-Match already names etag. stale answers are tagged but never stored.
func (s *Server) writeTagged(c *gin.Context, etag, cacheControl string, stale bool, v any) {
	h := c.Writer.Header()
	h.Set("ETag", etag)
	if stale {
		cacheControl = cacheNoStore
	}
	h.Set("Cache-Control", cacheControl)
	h.Add("Vary", "Authorization")
	if noneMatch(c.Request.Header.Values("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	s.writeJSON(c, http.StatusOK, v)
}

// noneMatch reports whether an If-None-Match header (its field values) matches etag: "*", or
// a listed tag equal to it under the weak comparison (W/ prefixes ignored), as GET and HEAD
// compare them (RFC 9110 13.1.2).
func noneMatch(values []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}

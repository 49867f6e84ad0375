package api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/ratelimit"
)

// BenchmarkRateLimitMiddleware is the cost of the caller's budget on the hot path: a gin
// engine whose one route sits behind the ClassRequests middleware, with 10,000 distinct
// signed-in callers, limits off and on (budgets no caller reaches, so every request passes
// and writes its RateLimit headers). docs/SECURITY.md quotes it.
//
//	go test ./api -run '^$' -bench BenchmarkRateLimitMiddleware -benchmem
func BenchmarkRateLimitMiddleware(b *testing.B) {
	principals := make([]*auth.Principal, 10_000)
	for i := range principals {
		principals[i] = &auth.Principal{Subject: "u-" + strconv.Itoa(i)}
	}
	for _, off := range []bool{true, false} {
		name := "on"
		if off {
			name = "off"
		}
		b.Run(name, func(b *testing.B) {
			rc := ratelimit.DefaultConfig()
			rc.Off = off
			rc.Subject = ratelimit.Limit{Count: 1_000_000, Period: 1e9, Burst: 1_000_000}
			limits, err := ratelimit.New(rc)
			if err != nil {
				b.Fatal(err)
			}
			gin.SetMode(gin.ReleaseMode)
			e := gin.New()
			var next atomic.Int64
			e.Use(func(c *gin.Context) { // what Authenticate leaves: the caller's principal
				c.Set(principalKey, principals[next.Add(1)%int64(len(principals))])
				c.Next()
			})
			e.Use(limits.Middleware(ratelimit.ClassRequests, ratelimit.KeyBy(PrincipalOf, limits.ClientIP), func(c *gin.Context, err error) {
				c.AbortWithStatus(http.StatusTooManyRequests)
			}))
			e.GET("/v1/me/holds", func(c *gin.Context) { c.Status(http.StatusOK) })
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/v1/me/holds", nil)
				for pb.Next() {
					w := httptest.NewRecorder()
					e.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// BenchmarkEdgeRateLimits is the same through the whole edge (request id, log, metrics,
// token check from the cache, the actor's answer from memory): GET availability by 1,000
// signed-in users, limits off and on.
//
//	go test ./api -run '^$' -bench BenchmarkEdgeRateLimits -benchmem
func BenchmarkEdgeRateLimits(b *testing.B) {
	for _, off := range []bool{true, false} {
		name := "on"
		if off {
			name = "off"
		}
		b.Run(name, func(b *testing.B) {
			rc := ratelimit.DefaultConfig()
			rc.Off, rc.Now = off, nil
			rc.Subject = ratelimit.Limit{Count: 1_000_000, Period: 1e9, Burst: 1_000_000}
			e := MustServer(b, func(c *Config) { c.RateLimits = &rc })
			e.mustCreate()
			tokens := make([]string, 1000)
			for i := range tokens {
				tokens[i] = "Bearer " + e.tokens.token(b, auth.TokenSpec{Subject: "u-" + strconv.Itoa(i)})
			}
			call := func(tok string) {
				req := httptest.NewRequest(http.MethodGet, "/v1/resources/hotel-1/availability", nil)
				req.Header.Set("Authorization", tok)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			for _, tok := range tokens { // every token verified once: the cache answers below
				call(tok)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					call(tokens[next.Add(1)%int64(len(tokens))])
				}
			})
		})
	}
}

// reportCPU reports the process's CPU time per operation (user + system, "cpu-ns/op") from
// now until the returned function is called: on a machine shared with other work the wall
// time per operation includes waiting for a core, the CPU time does not.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

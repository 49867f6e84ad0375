package loadgen

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/allot/allot/api/client"
)

// outcome classifies what a request did on the server, as far as the client can know.
type outcome uint8

const (
	outcomeOK        outcome = iota // 2xx: applied
	outcomeRejected                 // 4xx (429 included): not applied
	outcomeAmbiguous                // transport error, timeout, 5xx: maybe applied
)

// result is the answer to one logical request, after its retries.
type result struct {
	Status  int    // HTTP status of the last attempt; 0 when it got no answer
	Code    string // problem code of an error answer ("sold_out")
	Err     error  // the transport error, or the *client.Error of a non-2xx answer
	Retries int
}

// resultOf is the result of a call of package client.
func resultOf(info client.Info, err error) result {
	return result{Status: info.Status, Code: client.ErrorCode(err), Err: err, Retries: max(info.Attempts-1, 0)}
}

func (r result) outcome() outcome {
	switch {
	case r.Status == 0 || r.Status >= 500:
		// No answer, or 503 unavailable: the store may or may not have committed.
		return outcomeAmbiguous
	case r.Status >= 200 && r.Status < 300:
		return outcomeOK
	default:
		return outcomeRejected
	}
}

func (r result) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return strconv.Itoa(r.Status)
}

// newClient returns the API client of a run: cfg.Targets round robin, one keep-alive
// connection per simulated client and target, answers 429 and 503 and transport errors
// retried up to cfg.MaxRetries times with the same Idempotency-Key after the server's
// Retry-After (capped at cfg.MaxRetryWait) or a jittered exponential backoff. observe, when
// set, is told the status of every attempt (0: no answer). ts supplies the bearer token (nil:
// none); a simulated client derives its own with its user's token (client.With).
func newClient(cfg *Config, observe func(status int), ts client.TokenSource) (*client.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Without this the default of 2 idle connections per host makes most requests open a new
	// connection under load.
	tr.MaxIdleConns = cfg.Clients * len(cfg.Targets)
	tr.MaxIdleConnsPerHost = cfg.Clients
	tr.DisableCompression = true
	retry := client.Retry{
		MaxAttempts:    cfg.MaxRetries + 1,
		AttemptTimeout: cfg.Timeout,
		MaxWait:        cfg.MaxRetryWait,
	}
	if observe != nil {
		retry.OnAttempt = func(a client.Attempt) { observe(a.Status) }
	}
	return client.New(cfg.Targets, client.WithHTTPClient(&http.Client{Transport: tr}),
		client.WithRetry(retry), client.WithUserAgent("allot-loadgen"), client.WithTokenSource(ts))
}

// errNoHoldID is the error of a 2xx hold answer without a hold id.
var errNoHoldID = errors.New("answer without a hold id")

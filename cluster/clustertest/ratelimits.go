package clustertest

// LoadRateLimitArgs are the `allot node` flags of test and benchmark nodes whose load comes
// from one address (127.0.0.1) and from few subjects in closed loops, faster than any person:
// rate limits stay on, so their cost is in every measurement, with budgets that no test client
// reaches. Production keeps the defaults (docs/SECURITY.md, "Abuse control"); the rate-limit
// tests of package api and cmd check the refusals with small budgets.
func LoadRateLimitArgs() []string {
	const high = "1000000/1s:1000000"
	return []string{
		"--rate-limits", "on",
		"--rate-limit-subject", high,
		"--rate-limit-anonymous", high,
		"--rate-limit-holds", high,
		"--rate-limit-auth-failures", high,
	}
}

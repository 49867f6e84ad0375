package clustertest

import (
	"encoding/json"

	"github.com/allot/allot/api/wire"
)

// countAlive counts members with status "alive" in a /v1/cluster/members body.
func countAlive(body []byte) int {
	var v wire.MemberList
	if json.Unmarshal(body, &v) != nil {
		return -1
	}
	n := 0
	for _, m := range v.Members {
		if m.Status == "alive" {
			n++
		}
	}
	return n
}

// CountAlive is countAlive for tests outside the package.
func CountAlive(body []byte) int { return countAlive(body) }

package api

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"
)

// Member describes one cluster member as GET /v1/cluster/members reports it.
type Member struct {
	// ID is the member's id (unique per process start).
	ID string `json:"id"`
	// Address is where peers reach the member (host:port).
	Address string `json:"address"`
	// Status is the local view of its liveness: alive, suspect, dead or left.
	Status string `json:"status"`
	// Self is true for the member answering the request.
	Self bool `json:"self"`
	// Activations is the number of resource actors it hosts (for peers, as last gossiped).
	Activations int `json:"activations"`
}

// MemberLister lists the cluster's members as this node sees them (cmd adapts the cluster
// provider's member list).
//
// Thread-safety: Members is called concurrently by requests. It returns a fresh slice that
// the caller may keep and modify; it cannot fail (it reports the last known view).
type MemberLister interface {
	Members() []Member
}

// GET /v1/cluster/members
func (s *Server) members(c *gin.Context) {
	var ms []Member
	if s.cfg.Members == nil {
		ms = []Member{{ID: s.cfg.NodeID, Status: "alive", Self: true}}
	} else {
		ms = append([]Member{}, s.cfg.Members.Members()...)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	s.writeJSON(c, http.StatusOK, MemberList{Members: ms})
}

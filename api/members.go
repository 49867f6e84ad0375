package api

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/wire"
)

// MemberLister lists the cluster's members as this node sees them (cmd adapts the cluster
// provider's member list).
//
// Thread-safety: Members is called concurrently by requests. It returns a fresh slice that
// the caller may keep and modify; it cannot fail (it reports the last known view).
type MemberLister interface {
	Members() []wire.Member
}

// GET /v1/cluster/members
func (s *Server) members(c *gin.Context) {
	var ms []wire.Member
	if s.cfg.Members == nil {
		ms = []wire.Member{{ID: s.cfg.NodeID, Status: "alive", Self: true}}
	} else {
		ms = append([]wire.Member{}, s.cfg.Members.Members()...)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	s.writeJSON(c, http.StatusOK, wire.MemberList{Members: ms})
}

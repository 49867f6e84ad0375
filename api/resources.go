package api

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/protos"
)

// resourceID returns the validated :rid path parameter, or answers 422 and returns false.
func (s *Server) resourceID(c *gin.Context) (string, bool) {
	rid := c.Param("rid")
	if err := booking.ValidateID("resource id", rid); err != nil {
		s.fail(c, err)
		return "", false
	}
	return rid, true
}

// POST /v1/resources
func (s *Server) createResource(c *gin.Context) {
	body, err := readJSONBody(c.Request, s.cfg.MaxBodyBytes)
	if err != nil {
		s.fail(c, err)
		return
	}
	id, op, err := decodeCreateResource(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: id, Op: &protos.Command_CreateResource{CreateResource: op}})
	if !ok {
		return
	}
	if reply.Resource == nil {
		s.fail(c, errNoPayload)
		return
	}
	c.Header("Location", "/v1/resources/"+url.PathEscape(id))
	s.writeJSON(c, http.StatusCreated, resourceFromProto(reply.Resource))
}

// GET /v1/resources/:rid
func (s *Server) getResource(c *gin.Context) {
	if r, stale, ok := s.fetchResource(c); ok {
		s.writeTagged(c, versionTag(r.Version), cacheRevalidate, stale, resourceFromProto(r))
	}
}

// GET /v1/resources/:rid/availability
func (s *Server) availability(c *gin.Context) {
	if r, stale, ok := s.fetchResource(c); ok {
		s.writeTagged(c, versionTag(r.Version), s.availabilityCacheControl(), stale,
			wire.Availability{ResourceID: r.Id, Buckets: bucketsFromProto(r.Buckets)})
	}
}

// fetchResource reads the resource from its owner; stale reports an answer from the owner's
// memory that it could not confirm with the store.
func (s *Server) fetchResource(c *gin.Context) (r *protos.Resource, stale, ok bool) {
	rid, ok := s.resourceID(c)
	if !ok {
		return nil, false, false
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_GetResource{GetResource: &protos.GetResource{}}})
	if !ok {
		return nil, false, false
	}
	if reply.Resource == nil {
		s.fail(c, errNoPayload)
		return nil, false, false
	}
	return reply.Resource, reply.Stale, true
}

// DELETE /v1/resources/:rid archives the resource (booking.DecideArchive): 200 with it.
func (s *Server) archiveResource(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_ArchiveResource{ArchiveResource: &protos.ArchiveResource{}}})
	if !ok {
		return
	}
	if reply.Resource == nil {
		s.fail(c, errNoPayload)
		return
	}
	s.writeJSON(c, http.StatusOK, resourceFromProto(reply.Resource))
}

// PATCH /v1/resources/:rid
func (s *Server) updateResource(c *gin.Context) {
	rid, ok := s.resourceID(c)
	if !ok {
		return
	}
	body, err := readJSONBody(c.Request, s.cfg.MaxBodyBytes)
	if err != nil {
		s.fail(c, err)
		return
	}
	op, err := decodeUpdateResource(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	reply, ok := s.askOwner(c, &protos.Command{ResourceId: rid, Op: &protos.Command_UpdateResource{UpdateResource: op}})
	if !ok {
		return
	}
	if reply.Resource == nil {
		s.fail(c, errNoPayload)
		return
	}
	s.writeJSON(c, http.StatusOK, resourceFromProto(reply.Resource))
}

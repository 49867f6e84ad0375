package api

import (
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/webhooks"
)

// mountedRoutes are the route tables of the packages whose routes api.Server mounts
// (webhooks admin API, live streams). Only methods and paths are read here.
func mountedRoutes() []mount.Route {
	return append(webhooks.NewHandlers(nil, nil).Routes(), (&live.Streams{}).Routes()...)
}

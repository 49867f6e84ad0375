package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/persistence/sqlite"
	"github.com/allot/allot/protos"
)

// node is one in-process Allot edge the way a node composes it once the routes of this
// branch are mounted (docs/OPERATIONS.md, "Wiring"): the real api.Server over real resource
// actors and a memstore, listing the members of a real 3-member gossip cluster, authenticated with a dev issuer, plus the mounted routes of the
// console, the reports, the live streams and the webhooks admin API, each under its policy.
//
// The event bus is not in this branch: publish plays its part, handing each event of a
// change made through the API to the consumers a node subscribes (reports, live hub,
// webhooks), in order per resource.
type node struct {
	url     string
	issuer  *auth.DevIssuer
	reports *reports.SQLStore
	views   *reports.Views // not started: tests Flush it
	hooks   *webhooks.Dispatcher

	mu       sync.Mutex
	versions map[string]uint64
	handlers []feed.Handler
}

func mustNode(t *testing.T) *node { return mustNodeWith(t, console.Config{DevTokens: true}, 3) }

// mustNodeWith builds a node whose console has cfg and whose member list is that of a gossip
// cluster of members (0: just this node).
func mustNodeWith(t *testing.T, ccfg console.Config, members int) *node {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()

	// The resource actors over a memstore, as a node builds them (minus the cluster).
	store := memstore.New()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	rcfg := resource.DefaultConfig()
	rcfg.Store, rcfg.Owner, rcfg.IdleTimeout = store, "local", time.Hour
	reg := prometheus.NewRegistry() // the node's registry: the edge's and the actors' metrics
	rcfg.Metrics = resource.NewMetrics(reg)
	disp := &actorDispatcher{sys: sys, cfg: rcfg, store: store, pids: map[string]*actor.PID{}}
	t.Cleanup(func() { disp.stop(); _ = store.Close() })

	// The member list is that of a real 3-member gossip cluster on loopback; commands go to
	// this process's actors (the cluster's placement is not what these tests are about).
	acfg := auth.DefaultConfig()
	issuer, err := auth.NewDevIssuer(acfg, filepath.Join(dir, "dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewDevVerifier(acfg, issuer)
	if err != nil {
		t.Fatal(err)
	}

	acfgEdge := api.Config{Dispatcher: disp, Holds: disp, Waitlist: store, Resources: store, NodeID: "node-1", Logger: quiet,
		Verifier: verifier, Registerer: reg}
	var memberList func() []wire.Member
	if members > 0 {
		gm := mustGossipCluster(t, members)
		acfgEdge.Members, memberList = gm, gm.Members
	}
	edge, err := api.NewServer(acfgEdge)
	if err != nil {
		t.Fatal(err)
	}

	// Reports on the node's SQLite file.
	dbPath := filepath.Join(dir, "allot.db")
	main, err := sqlite.Open(context.Background(), sqlite.DefaultConfig(dbPath))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = main.Close() })
	db, err := sqlite.OpenSidePool(dbPath, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rstore, err := reports.NewSQLStore(db, reports.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	rh, err := reports.NewHandlers(reports.HandlersConfig{Reports: reports.NewReports(rstore), Fail: api.Fail})
	if err != nil {
		t.Fatal(err)
	}
	subject := func(c *gin.Context) string {
		if p := api.PrincipalOf(c); p != nil {
			return p.Subject
		}
		return ""
	}
	views, err := reports.NewViews(reports.ViewsConfig{Store: rstore, Subject: subject, Key: []byte("test-view-key-0123456789"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	// Live streams.
	reader := api.OwnerAvailability{Dispatcher: disp}
	hcfg := live.DefaultHubConfig()
	hcfg.Reader, hcfg.Logger = reader, quiet
	hub, err := live.NewHub(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	users := live.NewUserFeed(0)
	streams, err := live.NewStreams(live.StreamConfig{Hub: hub, Reader: reader, Users: users, Fail: api.Fail, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}

	// Webhooks, delivering to a receiver on loopback.
	wcfg := webhooks.DefaultConfig()
	wcfg.Store, wcfg.AllowPrivate, wcfg.Logger = webhooks.NewMemStore(), true, quiet
	hooks, err := webhooks.NewDispatcher(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hooks.Close() })

	con, err := console.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}

	// Notifications (read-only in the console): the real service on the node's SQLite file,
	// its workers not started, so what it decides stays pending.
	ndb, err := sqlite.OpenSidePool(dbPath, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ndb.Close() })
	nstore, err := notify.NewSQLStore(ndb, notify.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	nsvc, err := notify.New(notify.DefaultConfig(), notify.Deps{Store: nstore, Resources: notifyDirectory{}, Contacts: notifyDirectory{},
		Mailer: notifyDirectory{}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsvc.Close() })

	stats, err := nodestats.New(nodestats.Config{Gatherer: reg, Members: memberList, Node: "node-1", Fail: api.Fail})
	if err != nil {
		t.Fatal(err)
	}

	var routes []mount.Route
	routes = append(routes, con.Routes()...)
	routes = append(routes, stats.Routes()...)
	routes = append(routes, notify.NewHandlers(nsvc, api.Fail, subject).Routes()...)
	routes = append(routes, rh.Routes()...)
	// A connection to the availability stream counts a view, as in a node (cmd/reports.go).
	for _, rt := range streams.Routes() {
		if rt.Path == "/v1/resources/:rid/availability/stream" {
			obs, next := views.StreamObserver(), rt.Handler
			rt.Handler = func(c *gin.Context) { obs(c); next(c) }
		}
		routes = append(routes, rt)
	}
	routes = append(routes, webhooks.NewHandlers(hooks, api.Fail).Routes()...)
	policies := auth.RoutePolicies{}
	mount.AddPolicies(policies, routes)
	// The availability read counts a view, then goes on to the edge's own handler.
	policies[auth.Route{Method: http.MethodGet, Path: "/v1/resources/:rid/availability"}] = auth.Public
	e := gin.New()
	e.ContextWithFallback = true
	e.Use(api.Authenticate(verifier, policies, quiet))
	mount.Mount(e, routes)
	inner := gin.WrapH(edge.Handler())
	e.GET("/v1/resources/:rid/availability", views.Middleware(), inner)
	e.NoRoute(inner) // the edge's own routes (holds, resources, members)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() }) // streams end with their connections

	n := &node{url: srv.URL, issuer: issuer, reports: rstore, views: views, hooks: hooks, versions: map[string]uint64{},
		handlers: []feed.Handler{reports.Consumer(rstore, quiet), hub.Handle, hooks.Handle, nsvc.Handle}}
	return n
}

// token mints a dev token.
func (n *node) token(t *testing.T, sub string, mfa bool, roles ...auth.Role) string {
	t.Helper()
	tok, err := n.issuer.Mint(auth.TokenSpec{Subject: sub, Roles: roles, MFA: mfa, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// publish hands one event about rid to the node's consumers, as the bus would.
func (n *node) publish(t *testing.T, typ, rid, subject string, data any) {
	t.Helper()
	n.mu.Lock()
	n.versions[rid]++
	v := n.versions[rid]
	n.mu.Unlock()
	body, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	ev := feed.Event{ID: fmt.Sprintf("%s-%d-0", rid, v), Type: typ, ResourceID: rid, Version: v, OccurredAt: time.Now().UTC(),
		Subject: subject, Data: body}
	for _, h := range n.handlers {
		if err := h(context.Background(), ev); err != nil {
			t.Fatalf("consume %s: %v", typ, err)
		}
	}
}

// call makes an API request with tok and decodes the answer into out (if not nil).
func (n *node) call(t *testing.T, method, path, tok string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.url+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return res.StatusCode
}

// createResource creates a resource through the API and publishes resource.created.
func (n *node) createResource(t *testing.T, tok string, req wire.CreateResource) {
	t.Helper()
	var res wire.Resource
	if code := n.call(t, http.MethodPost, "/v1/resources", tok, req, &res); code != http.StatusCreated {
		t.Fatalf("create resource: %d", code)
	}
	n.publish(t, reports.TypeResourceCreated, res.ID, "", res)
}

// placeHold places a hold through the API and publishes hold.placed, then confirms or
// cancels it (when asked) and publishes that.
func (n *node) placeHold(t *testing.T, tok, rid, user string, buckets []string, qty int64, then string) wire.Hold {
	t.Helper()
	var h wire.Hold
	if code := n.call(t, http.MethodPost, "/v1/resources/"+rid+"/holds", tok,
		wire.PlaceHold{Buckets: buckets, Quantity: qty, UserID: user}, &h); code != http.StatusCreated {
		t.Fatalf("place hold: %d", code)
	}
	n.publish(t, reports.TypeHoldPlaced, rid, user, h)
	if then == "" {
		return h
	}
	if code := n.call(t, http.MethodPost, "/v1/resources/"+rid+"/holds/"+h.ID+"/"+then, tok, nil, &h); code != http.StatusOK {
		t.Fatalf("%s hold: %d", then, code)
	}
	n.publish(t, "hold."+map[string]string{"confirm": "confirmed", "cancel": "cancelled"}[then], rid, user, h)
	return h
}

// actorDispatcher delivers commands to real resource actors in this process, one plain actor
// per resource id (resource.PropsFor), as the cluster activates one per identity; its store
// is the HoldLister, as in a node.
type actorDispatcher struct {
	sys   *actor.ActorSystem
	cfg   resource.Config
	store *memstore.Store

	mu   sync.Mutex
	pids map[string]*actor.PID
}

func (d *actorDispatcher) Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error) {
	d.mu.Lock()
	if d.pids == nil {
		d.mu.Unlock()
		return nil, errors.New("stopped")
	}
	pid, ok := d.pids[cmd.ResourceId]
	if !ok {
		pid = d.sys.Root.Spawn(resource.PropsFor(d.cfg, cmd.ResourceId))
		d.pids[cmd.ResourceId] = pid
	}
	d.mu.Unlock()
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	res, err := d.sys.Root.RequestFuture(pid, cmd, timeout).Result()
	if err != nil {
		return nil, err
	}
	reply, ok := res.(*protos.Reply)
	if !ok {
		return nil, fmt.Errorf("unexpected answer %T", res)
	}
	return reply, nil
}

func (d *actorDispatcher) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	return d.store.ListHolds(ctx, f)
}

func (d *actorDispatcher) stop() {
	d.mu.Lock()
	pids := d.pids
	d.pids = nil
	d.mu.Unlock()
	for _, pid := range pids {
		_ = d.sys.Root.PoisonFuture(pid).Wait()
	}
	d.sys.Shutdown()
}

func httpServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// notifyDirectory is the notification service's view of resources and users (every user has
// an e-mail address on example.com) and its mailer, which is never called: no worker runs.
type notifyDirectory struct{}

func (notifyDirectory) Resource(_ context.Context, id string) (notify.ResourceInfo, error) {
	return notify.ResourceInfo{Name: id}, nil
}

func (notifyDirectory) Contact(_ context.Context, userID string) (notify.Contact, error) {
	return notify.Contact{Email: userID + "@example.com"}, nil
}

func (notifyDirectory) Send(context.Context, notify.Mail) error {
	return errors.New("no mail is sent in the console's tests")
}

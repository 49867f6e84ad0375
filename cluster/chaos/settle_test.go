package chaos

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Round 18 (docs/PERFORMANCE.md): a node cut off from its peers but not from the database
// owned its resources in its own view while the majority moved them. After the heal, each side
// waited out the other's lease, took a new epoch and fenced the other, every 2-4 s, for 4-13 s:
// requests on those resources were held or failed on nodes that were never cut off.
//
// TestOwnershipSettlesAfterHeal cuts one node of three off from its peers (not from clients or
// PostgreSQL) while every node keeps placing holds on each of its resources, heals it, and measures,
// through the two nodes that were never cut off, the longest stretch after the heal in which a
// moved resource placed no hold, how long requests kept failing or taking more than
// settleSlow, and how many epochs those resources take after the heal. Ownership should go
// back in one move: at most two epochs per resource (the move back, and one more for a
// request that raced it), and the median over the moved resources of their longest stretch
// without a hold within settleBound (a lease wait is most of --lease, 4 s).
func TestOwnershipSettlesAfterHeal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and node processes")
	}
	// Not in make test: under CI's load (every package's tests on 2 cores) one resource in a
	// few runs still races the handover and waits out a lease. Round 19 closed two such races
	// and put it back in make test; the first fresh-clone CI of round 20 then saw a moved
	// resource take 3 epochs after the heal: a member of the majority waited out a lease that
	// was not handed over (3.98 s) and was fenced by the returning owner 15 ms after it
	// activated (the idle fenced owner round 19 left open). make chaos runs it, on a machine
	// given to it, until that race is closed.
	if os.Getenv(EnvSettle) == "" {
		t.Skipf("set %s=1 (make chaos does)", EnvSettle)
	}
	tb := StartTestbed(t, 3, NetAuto, os.Getenv(EnvBin))
	if tb.Net == nil || tb.Net.IPTables == "" {
		t.Skipf("needs network namespaces and iptables: %s", tb.Mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const resources = 9
	var specs []*ResourceSpec
	for i := range resources {
		specs = append(specs, &ResourceSpec{ID: fmt.Sprintf("settle-r%d", i), Buckets: []string{"a"}, Capacity: 1_000_000})
	}
	if err := tb.CreateResources(ctx, specs); err != nil {
		t.Fatal(err)
	}
	// The victim is node 0's owner of the most resources; its resources are the moved ones.
	byNode := map[string][]string{}
	for _, s := range specs {
		a := tryOnce(ctx, tb, 0, http.MethodGet, resourcePath(s.ID)+"/availability", "", nil)
		if a.status != http.StatusOK {
			t.Fatalf("read %s: %d %v", s.ID, a.status, a.err)
		}
		byNode[a.owner] = append(byNode[a.owner], s.ID)
	}
	victim := 0
	for i, n := range tb.Nodes {
		if len(byNode[n.Name]) > len(byNode[tb.Nodes[victim].Name]) {
			victim = i
		}
	}
	moved := byNode[tb.Nodes[victim].Name]
	t.Logf("victim %s owns %v", tb.Nodes[victim].Name, moved)

	// Load: one client per node and moved resource, a hold every 50 ms, one attempt each.
	var (
		mu  sync.Mutex
		log []settleSample
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range tb.Nodes {
		for _, rid := range moved {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; loadCtx.Err() == nil; k++ {
					start := time.Now()
					a := tryOnce(loadCtx, tb, i, http.MethodPost, resourcePath(rid)+"/holds", fmt.Sprintf("%s-n%d-%d", rid, i, k),
						map[string]any{"buckets": []string{"a"}, "quantity": 1, "user_id": "u"})
					if loadCtx.Err() != nil {
						return
					}
					mu.Lock()
					log = append(log, settleSample{node: i, rid: rid, start: start, end: time.Now(), ok: a.status == http.StatusCreated})
					mu.Unlock()
					sleepCtx(loadCtx, 50*time.Millisecond)
				}
			}()
		}
	}
	defer func() { stopLoad(); wg.Wait() }()

	sleepCtx(ctx, 2*time.Second)
	if err := tb.Net.Block(victim, tb.Net.PeersOf(victim), Both); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	other := (victim + 1) % len(tb.Nodes)
	waitAliveSeen(t, ctx, tb, other, len(tb.Nodes)-1)
	sleepCtx(ctx, 6*time.Second) // the majority has moved the resources; the victim keeps its clients
	atHeal := epochs(t, ctx, tb.DBURL, moved)
	if err := tb.Net.Heal(victim); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	t.Logf("partition %.1f s, healed at %s", healed.Sub(cut).Seconds(), healed.UTC().Format("15:04:05.000"))
	sleepCtx(ctx, settleWatch)
	stopLoad()
	wg.Wait()
	atEnd := epochs(t, ctx, tb.DBURL, moved)
	if dir := os.Getenv(EnvOut); dir != "" { // the nodes' logs, for the fencing timeline
		for _, n := range tb.Nodes {
			if err := n.WriteLogs(dir); err != nil {
				t.Error(err)
			}
		}
	}

	// Through the nodes never cut off, after the heal: the end of the last request that failed
	// or took longer than settleSlow (reported), and per moved resource the longest stretch
	// without a hold placed (asserted). A change of hands that waits out a lease holds every
	// request on the resource, through every node, for most of a lease; a request lost on its
	// way (a peer connection reset as the views change) fails one request, not the resource.
	var settled time.Duration
	var bad, total int
	lastOK := map[string]time.Time{}
	gaps := map[string]time.Duration{}
	slices.SortFunc(log, func(a, b settleSample) int { return a.end.Compare(b.end) })
	for _, s := range log {
		if s.node == victim || s.end.Before(healed) {
			continue
		}
		if !s.start.Before(healed) {
			total++
			if !s.ok || s.end.Sub(s.start) > settleSlow {
				bad++
				settled = max(settled, s.end.Sub(healed))
			}
		}
		if s.ok {
			from, ok := lastOK[s.rid]
			if !ok {
				from = healed
			}
			gaps[s.rid] = max(gaps[s.rid], s.end.Sub(from))
			lastOK[s.rid] = s.end
		}
	}
	var changes []int
	var gapList []string
	var stretches []time.Duration
	worst := 0
	for _, rid := range moved {
		d := int(atEnd[rid] - atHeal[rid])
		changes = append(changes, d)
		worst = max(worst, d)
		if _, ok := lastOK[rid]; !ok {
			gaps[rid] = settleWatch
		}
		gapList = append(gapList, fmt.Sprintf("%.2f", gaps[rid].Seconds()))
		stretches = append(stretches, gaps[rid])
	}
	// The median over the moved resources: on main every one of them waits out a lease after
	// the heal; with the handover, now and then one resource still races it and waits one
	// out (docs/PERFORMANCE.md, round 18, what is left).
	slices.Sort(stretches)
	median := stretches[len(stretches)/2]
	t.Logf("after the heal, through the nodes never cut off: %d of %d requests failed or took over %v, the last ending %.2f s after the heal; longest stretch without a hold per moved resource %v s; epochs taken per moved resource %v",
		bad, total, settleSlow, settled.Seconds(), gapList, changes)
	if total == 0 {
		t.Fatal("no request after the heal")
	}
	if median > settleBound {
		t.Errorf("the moved resources placed no hold for %.2f s after the heal (the median; bound %v): ownership did not settle (round 18)", median.Seconds(), settleBound)
	}
	if worst > 2 {
		t.Errorf("a moved resource took %d epochs after the heal (%v), want at most 2: ownership ping-ponged (round 18)", worst, changes)
	}
}

const (
	settleWatch = 15 * time.Second // how long the load runs after the heal
	settleSlow  = time.Second      // a request slower than this was held
	settleBound = 3 * time.Second  // after the heal, how long the moved resources (the median) may place no hold
)

type settleSample struct {
	node       int
	rid        string
	start, end time.Time
	ok         bool
}

// tryOnce sends one request through node i, one attempt of at most 3 s.
func tryOnce(ctx context.Context, tb *Testbed, i int, method, path, key string, body any) answer {
	c := NewClient([]Endpoint{tb.Endpoints[i]}, 3*time.Second, 3*time.Second, tb.Tokens)
	defer c.Close()
	c.MaxBackoff = 0
	return c.Do(ctx, rand.New(rand.NewSource(1)), method, path, key, body)
}

func waitAliveSeen(t *testing.T, ctx context.Context, tb *Testbed, i, want int) {
	t.Helper()
	c := membersClient(tb.Tokens)
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := aliveSeenBy(ctx, c, tb.Nodes[i].URL())
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never saw %d alive (last %d, %v)", tb.Nodes[i].Name, want, n, err)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// epochs reads the stored epoch of each resource.
func epochs(t *testing.T, ctx context.Context, dbURL string, ids []string) map[string]int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, epoch FROM resources WHERE id = ANY($1)`, slices.Clone(ids))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var e int64
		if err := rows.Scan(&id, &e); err != nil {
			t.Fatal(err)
		}
		out[id] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

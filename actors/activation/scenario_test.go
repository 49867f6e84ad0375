package activation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
)

// TestScenarios runs the transcripts in testdata: each is a story of one activation told as
// inputs and the core's answers (the commands are
// documented on scenario's methods below). Rewrite the expected output after a deliberate change with
// go test ./actors/activation -run Scenarios -rewrite, and read the diff.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := s.run(d)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}

// t0 is the scenarios' start of time; times are printed relative to it.
var t0 = time.UnixMilli(1_900_000_000_000).UTC()

// scenario is one transcript's activation and what it asked for.
type scenario struct {
	core     *Core
	cfg      Config
	now      time.Time
	cmds     map[string]*Command
	holds    int      // hold ids handed out: h1, h2, ...
	entries  int      // waitlist entry ids handed out: w1, w2, ...
	commits  []uint64 // ids of the commits asked for, in order: "commit #N" is commits[N-1]
	renewal  uint64
	load     uint64
	lookups  map[string]Lookup
	lastWake time.Time
	events   bool // print each commit's events

	leaseCheck uint64 // the last lease read asked for (handover.go)
}

func (s *scenario) run(d *datadriven.TestData) (string, error) {
	if d.Cmd != "new" && s.core == nil {
		return "", fmt.Errorf("no activation yet: start with new")
	}
	var in Input
	switch d.Cmd {
	case "new":
		return "", s.init(d)
	case "advance":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			return "", err
		}
		s.now = s.now.Add(dur)
		return "now " + s.rel(s.now) + "\n", nil
	case "status":
		st := s.core.Status(s.now)
		return fmt.Sprintf("phase %s, memory %s, backing off %v, leased %v, parked %d, pending %d, in flight %d, epoch %d, version %d\n",
			st.Phase, memoryName(st.Memory), st.BackingOff, st.Leased, st.Parked, st.Pending, st.InFlight, st.Epoch, st.Version), nil
	case "quiet":
		if q := s.core.Quiet(); q != (s.core.work == nil) {
			return "", fmt.Errorf("quiet %v with work %v: a quiet core drops its work between Steps, no other does (work.go)", q, s.core.work != nil)
		}
		return fmt.Sprintf("quiet %v, waiting %d\n", s.core.Quiet(), s.core.Waiting()), nil
	case "start":
		in = Start{}
	case "stop":
		in = Stop{}
	case "passivate":
		in = Passivate{Queued: s.intArg(d, "queued")}
	case "tick":
		in = Tick{Queued: s.intArg(d, "queued")}
	case "cmd":
		c, err := s.command(d)
		if err != nil {
			return "", err
		}
		in = c
	case "commit":
		in = CommitResult{ID: s.commitID(d), Outcome: outcomeArg(d)}
	case "renewal":
		in = RenewalResult{ID: s.renewal, Outcome: outcomeArg(d)}
	case "load":
		r, err := s.loaded(d)
		if err != nil {
			return "", err
		}
		in = r
	case "lease":
		in = s.leaseRead(d)
	case "lookup":
		r, err := s.looked(d)
		if err != nil {
			return "", err
		}
		in = r
	default:
		return "", fmt.Errorf("unknown command %q", d.Cmd)
	}
	return s.print(s.core.Step(s.now, in)), nil
}

// init parses "new [events] [max-batch=N] [max-pending=N] [pipeline=N] [min-behind=N] [idle=D] [quiet=D]
// [lease=D] [min-backoff=D] [max-backoff=D]"; pipeline is MaxInFlight (above 1, commits are printed
// numbered: "commit #N").
func (s *scenario) init(d *datadriven.TestData) error {
	s.cfg = Config{
		ResourceID: "r", MaxPending: 100, MaxBatch: 100, IdleTimeout: 2 * time.Minute, CommitTimeout: 5 * time.Second,
		MinReloadBackoff: 100 * time.Millisecond, MaxReloadBackoff: 2 * time.Second, Lease: 4 * time.Second,
		MaxClockOffset: 500 * time.Millisecond,
	}
	s.events = false
	for _, a := range d.CmdArgs {
		v := val(a)
		switch a.Key {
		case "events":
			s.events = true
		case "max-batch", "max-pending", "pipeline", "min-behind":
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			switch a.Key {
			case "max-batch":
				s.cfg.MaxBatch = n
			case "max-pending":
				s.cfg.MaxPending = n
			case "min-behind":
				s.cfg.MinBehind = n
			default:
				s.cfg.MaxInFlight = n
			}
		default:
			dur, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			switch a.Key {
			case "idle":
				s.cfg.IdleTimeout = dur
			case "handover-poll":
				s.cfg.HandoverPoll = dur
			case "quiet":
				s.cfg.QuietAfter = dur
			case "lease":
				s.cfg.Lease = dur
			case "min-backoff":
				s.cfg.MinReloadBackoff = dur
			case "max-backoff":
				s.cfg.MaxReloadBackoff = dur
			default:
				return fmt.Errorf("unknown setting %q", a.Key)
			}
		}
	}
	core, err := New(s.cfg)
	s.core, s.now, s.cmds, s.lookups = core, t0, map[string]*Command{}, map[string]Lookup{}
	s.holds, s.entries, s.lastWake, s.commits = 0, 0, time.Time{}, nil
	return err
}

// commitID is the commit a "commit OUTCOME [n=N]" ends: commit #N, or without n the first
// one at the store (the last one asked for when none is).
func (s *scenario) commitID(d *datadriven.TestData) uint64 {
	if n := s.intArg(d, "n"); n > 0 && n <= len(s.commits) {
		return s.commits[n-1]
	}
	if s.core.work == nil { // quiet (work.go): nothing at the store
	} else if fs := s.core.flights; len(fs) > 0 && !fs[0].renewal {
		return fs[0].id
	}
	if len(s.commits) == 0 {
		return 0
	}
	return s.commits[len(s.commits)-1]
}

// command parses "cmd NAME OP [args]": create buckets=(a:2) | hold buckets=(a) qty=1 key=k |
// confirm hold=h1 | cancel hold=h1 | extend hold=h1 key=k | join buckets=(a) qty=1 key=k |
// leave entry=w1 | get-resource | get-hold hold=h1; hold, extend, join and leave take
// user=U (default u); any of them with queued=N (commands behind it in the mailbox) and
// deadline=DURATION (from now). A join takes entry id wN and offer hold id hN, the next hold id.
func (s *scenario) command(d *datadriven.TestData) (*Command, error) {
	if len(d.CmdArgs) < 2 {
		return nil, fmt.Errorf("cmd NAME OP")
	}
	name, op := d.CmdArgs[0].Key, d.CmdArgs[1].Key
	c := &Command{To: name, Queued: s.intArg(d, "queued")}
	if a, ok := d.Arg("deadline"); ok {
		dur, err := time.ParseDuration(val(a))
		if err != nil {
			return nil, err
		}
		c.Deadline = s.now.Add(dur)
	}
	hold, user := "", "u"
	if a, ok := d.Arg("hold"); ok {
		hold = val(a)
	}
	if a, ok := d.Arg("user"); ok {
		user = val(a)
	}
	switch op {
	case "create":
		caps := map[string]int64{}
		a, _ := d.Arg("buckets")
		for _, v := range a.Vals {
			i := strings.LastIndex(v, ":") // slot keys have colons of their own
			caps[v[:i]], _ = strconv.ParseInt(v[i+1:], 10, 64)
		}
		c.Op = booking.CreateResource{ID: "r", Name: "Room", Buckets: caps}
		if d.HasArg("price") { // payment_scenario_test.go
			c.Op = pricedCreate(d, c.Op.(booking.CreateResource), s.intArg(d, "price"))
		}
	case "hold":
		s.holds++
		a, _ := d.Arg("buckets")
		p := booking.PlaceHold{HoldID: "h" + strconv.Itoa(s.holds), Buckets: a.Vals, Quantity: int64(max(s.intArg(d, "qty"), 1)), UserID: user}
		if k, ok := d.Arg("key"); ok {
			p.IdempotencyKey = val(k)
		}
		c.Op = p
	case "confirm":
		c.Op = booking.ConfirmHold{HoldID: hold, PaymentRequired: d.HasArg("payment-required")} // payment_scenario_test.go
	case "cancel":
		c.Op = booking.CancelHold{HoldID: hold}
	case "extend":
		x := booking.ExtendHold{HoldID: hold, UserID: user}
		if k, ok := d.Arg("key"); ok {
			x.IdempotencyKey = val(k)
		}
		c.Op = x
	case "join":
		s.holds++
		s.entries++
		a, _ := d.Arg("buckets")
		j := booking.JoinWaitlist{EntryID: "w" + strconv.Itoa(s.entries), OfferHoldID: "h" + strconv.Itoa(s.holds),
			UserID: user, Buckets: a.Vals, Quantity: int64(max(s.intArg(d, "qty"), 1))}
		if k, ok := d.Arg("key"); ok {
			j.IdempotencyKey = val(k)
		}
		c.Op = j
	case "leave":
		a, _ := d.Arg("entry")
		c.Op = booking.LeaveWaitlist{EntryID: val(a), UserID: user}
	case "get-resource":
		c.Op = GetResource{}
	case "get-hold":
		c.Op = GetHold{HoldID: hold}
	default:
		var err error
		if c.Op, err = paymentCommand(d, op, hold, user); err != nil { // payment_scenario_test.go
			return nil, err
		}
	}
	s.cmds[name] = c
	return c, nil
}

// loaded parses "load failed" or "load [exists epoch=N version=N] [lease-until=DURATION]
// [buckets=(a:2)] [holds=(h1:a:1:held)] [keys=(k1:h1)] [waiting=(w1:h1:u2:a)]
// [join-keys=(k1:h1:u2:a)]"; DURATION is from t0, a key names the hold it placed, a waiting
// entry its offer hold, user and bucket (one unit), and a join's key the offer hold, user and
// bucket of the entry it joined.
func (s *scenario) loaded(d *datadriven.TestData) (LoadResult, error) {
	r := LoadResult{ID: s.load}
	if d.HasArg("failed") {
		r.Failed = true
		return r, nil
	}
	r.Exists = d.HasArg("exists")
	r.Epoch, r.Version = uint64(s.intArg(d, "epoch")), uint64(s.intArg(d, "version"))
	if r.Exists {
		r.Resource = booking.Resource{ID: "r", Name: "Room", HoldTTL: booking.DefaultHoldTTL, CreatedAt: t0, UpdatedAt: t0,
			MaxExtensions: booking.DefaultMaxExtensions, WaitlistOfferTTL: booking.DefaultWaitlistOfferTTL}
	}
	if a, ok := d.Arg("lease-until"); ok {
		dur, err := time.ParseDuration(val(a))
		if err != nil {
			return r, err
		}
		r.LeaseUntil = t0.Add(dur)
	}
	if a, ok := d.Arg("buckets"); ok {
		for _, v := range a.Vals {
			k, n, _ := strings.Cut(v, ":")
			c, _ := strconv.ParseInt(n, 10, 64)
			r.Buckets = append(r.Buckets, booking.Bucket{Key: k, Capacity: c})
		}
	}
	if a, ok := d.Arg("holds"); ok {
		for _, v := range a.Vals {
			f := strings.Split(v, ":")
			if len(f) != 4 {
				return r, fmt.Errorf("hold %q: want id:bucket:qty:status", v)
			}
			q, _ := strconv.ParseInt(f[2], 10, 64)
			r.Holds = append(r.Holds, booking.Hold{ID: f[0], ResourceID: "r", UserID: "u", Buckets: []string{f[1]}, Quantity: q,
				Status: booking.Status(f[3]), CreatedAt: t0, ExpiresAt: t0.Add(booking.DefaultHoldTTL), UpdatedAt: t0})
		}
	}
	if a, ok := d.Arg("keys"); ok {
		for _, v := range a.Vals {
			k, id, _ := strings.Cut(v, ":")
			for i, h := range r.Holds {
				if h.ID == id {
					r.Holds[i].IdempotencyKey = k
					r.Idempotency = append(r.Idempotency, booking.IdempotencyEntry{Key: k, HoldID: id, CreatedAt: t0,
						Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID)})
				}
			}
		}
	}
	if a, ok := d.Arg("waiting"); ok {
		for i, v := range a.Vals {
			f := strings.Split(v, ":")
			if len(f) != 4 {
				return r, fmt.Errorf("entry %q: want id:offer:user:bucket", v)
			}
			r.Waitlist = append(r.Waitlist, booking.WaitlistEntry{ID: f[0], ResourceID: "r", OfferHoldID: f[1], UserID: f[2],
				Buckets: []string{f[3]}, Quantity: 1, Seq: uint64(i + 1), CreatedAt: t0})
		}
	}
	if a, ok := d.Arg("join-keys"); ok {
		for _, v := range a.Vals {
			f := strings.Split(v, ":")
			if len(f) != 4 {
				return r, fmt.Errorf("join key %q: want key:offer:user:bucket", v)
			}
			r.Idempotency = append(r.Idempotency, booking.IdempotencyEntry{Key: f[0], HoldID: f[1], CreatedAt: t0,
				Fingerprint: "waitlist|" + booking.Fingerprint([]string{f[3]}, 1, f[2])})
		}
	}
	return r, nil
}

// leaseRead parses "lease failed" or "lease epoch=N [until=DURATION]" (DURATION from t0; none:
// no lease stored): the end of the last lease read asked for.
func (s *scenario) leaseRead(d *datadriven.TestData) LeaseCheckResult {
	r := LeaseCheckResult{ID: s.leaseCheck, Failed: d.HasArg("failed"), Epoch: uint64(s.intArg(d, "epoch"))}
	if a, ok := d.Arg("until"); ok {
		dur, _ := time.ParseDuration(val(a))
		r.Until = t0.Add(dur)
	}
	return r
}

// looked parses "lookup NAME not-found | failed | found=id:bucket:qty:status [offered=w1]
// [user=u2]" (offered: the hold is the offer to that waitlist entry).
func (s *scenario) looked(d *datadriven.TestData) (LookupResult, error) {
	name := d.CmdArgs[0].Key
	l, ok := s.lookups[name]
	if !ok {
		return LookupResult{}, fmt.Errorf("no lookup for %s", name)
	}
	r := LookupResult{For: l.For, HoldID: l.HoldID, Status: LookupNotFound}
	switch {
	case d.HasArg("failed"):
		r.Status = LookupFailed
	case d.HasArg("found"):
		a, _ := d.Arg("found")
		f := strings.Split(val(a), ":")
		q, _ := strconv.ParseInt(f[2], 10, 64)
		r.Status = LookupFound
		r.Hold = booking.Hold{ID: f[0], ResourceID: "r", UserID: "u", Buckets: []string{f[1]}, Quantity: q,
			Status: booking.Status(f[3]), CreatedAt: t0, ExpiresAt: t0.Add(booking.DefaultHoldTTL), UpdatedAt: t0}
		if d.HasArg("paying") { // payment_scenario_test.go
			r.Hold = withPendingPayment(r.Hold)
		}
		if a, ok := d.Arg("offered"); ok {
			r.Hold.WaitlistEntryID = val(a)
		}
		if a, ok := d.Arg("user"); ok {
			r.Hold.UserID = val(a)
		}
	}
	return r, nil
}

func (s *scenario) intArg(d *datadriven.TestData, key string) int {
	a, ok := d.Arg(key)
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(val(a))
	return n
}

func val(a datadriven.CmdArg) string {
	if len(a.Vals) == 0 {
		return ""
	}
	return a.Vals[0]
}

func outcomeArg(d *datadriven.TestData) Outcome {
	switch d.CmdArgs[0].Key {
	case "ok":
		return Committed
	case "fenced":
		return Fenced
	}
	return Unknown
}

func memoryName(m Memory) string {
	if m == Uncertain {
		return "uncertain"
	}
	return "current"
}

func (s *scenario) rel(t time.Time) string { return rel(t) }

// rel prints t relative to t0.
func rel(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return "+" + t.Sub(t0).String()
}

// print renders what the core asked for, one line each.
func (s *scenario) print(rd *Ready) string {
	var b strings.Builder
	for _, r := range rd.Replies {
		fmt.Fprintf(&b, "reply %s: %s\n", r.To, answerString(r.Answer))
	}
	for _, c := range rd.Commits {
		s.commits = append(s.commits, c.ID)
		w := c.Write
		if s.cfg.MaxInFlight > 1 {
			fmt.Fprintf(&b, "commit #%d", len(s.commits))
		} else {
			b.WriteString("commit")
		}
		fmt.Fprintf(&b, ": %d decisions as version %d, epoch %d, lease until %s", c.Size, w.Version, w.Epoch, s.rel(w.LeaseUntil))
		if w.Create {
			b.WriteString(", creating")
		}
		for _, h := range w.Holds {
			fmt.Fprintf(&b, "; %s %s", h.ID, h.Status)
		}
		for _, bk := range w.Buckets {
			fmt.Fprintf(&b, "; %s", bucketString(bk))
		}
		for _, e := range w.Waitlist {
			fmt.Fprintf(&b, "; waitlist +%s", e.ID)
		}
		for _, id := range w.WaitlistRemoved {
			fmt.Fprintf(&b, "; waitlist -%s", id)
		}
		for _, e := range w.Idempotency {
			switch { // a hold's key goes unsaid
			case strings.HasPrefix(e.Fingerprint, "waitlist|"):
				fmt.Fprintf(&b, "; join key %s for %s", e.Key, e.HoldID)
			case strings.HasPrefix(e.Fingerprint, "extend|"):
				fmt.Fprintf(&b, "; renewal key %s for %s", e.Key, e.HoldID)
			}
		}
		b.WriteString("\n")
		if s.events {
			for i := range w.Events {
				b.WriteString(s.eventString(&w.Events[i]))
			}
		}
	}
	if r := rd.Renewal; r.ID != 0 {
		s.renewal = r.ID
		fmt.Fprintf(&b, "renewal: epoch %d until %s\n", r.Epoch, s.rel(r.Until))
	}
	if l := rd.Load; l.ID != 0 {
		s.load = l.ID
		b.WriteString("load\n")
	}
	for _, l := range rd.Lookups {
		s.lookups[l.For.To.(string)] = l
		fmt.Fprintf(&b, "lookup %s: hold %s\n", l.For.To, l.HoldID)
	}
	if r := rd.Release; r.Requested {
		switch {
		case r.Fenced:
			fmt.Fprintf(&b, "hand the lease of epoch %d over: until %s\n", r.Epoch, s.rel(r.HandOver))
		case !r.HandOver.IsZero():
			fmt.Fprintf(&b, "release the lease of epoch %d (if fenced, hand it over: until %s)\n", r.Epoch, s.rel(r.HandOver))
		default:
			fmt.Fprintf(&b, "release the lease of epoch %d\n", r.Epoch)
		}
	}
	if c := rd.LeaseCheck; c.ID != 0 {
		s.leaseCheck = c.ID
		b.WriteString("read the lease\n")
	}
	if rd.StopSelf {
		b.WriteString("stop self\n")
	}
	if !rd.WakeAt.Equal(s.lastWake) {
		s.lastWake = rd.WakeAt
		fmt.Fprintf(&b, "wake at %s\n", s.rel(rd.WakeAt))
	}
	if n := notesString(rd.Notes); n != "" {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if b.Len() == 0 {
		return "(nothing)\n"
	}
	return b.String()
}

// eventString renders one event of a commit: id, type, subject, time and after-image.
func (s *scenario) eventString(e *events.Event) string {
	var img string
	switch {
	case e.Hold != nil:
		img = fmt.Sprintf("hold %s %s", e.Hold.ID, e.Hold.Status) + paymentEventString(e)
	case e.Resource != nil:
		var bs []string
		for _, bk := range e.Buckets {
			bs = append(bs, bucketString(bk))
		}
		img = "resource " + e.Resource.ID + ": " + strings.Join(bs, ", ")
	case e.Bucket != nil:
		img = bucketString(*e.Bucket)
	}
	subject := ""
	if e.Subject != "" {
		subject = " by " + e.Subject
	}
	return fmt.Sprintf("  event %s %s%s at %s: %s\n", e.ID(), e.Type, subject, s.rel(e.OccurredAt), img)
}

func answerString(a Answer) string {
	var s string
	switch {
	case a.Err != nil:
		s = booking.ErrorCode(a.Err) + ": " + booking.ErrorMessage(a.Err)
		if Redeliverable(a.Err) {
			s += " (not decided: redeliver)"
		}
	case a.Entry != nil:
		s = fmt.Sprintf("entry %s of %s at position %d", a.Entry.Entry.ID, a.Entry.Entry.UserID, a.Entry.Position)
	case a.Resource != nil:
		var bs []string
		for _, b := range a.Resource.Buckets {
			bs = append(bs, bucketString(b))
		}
		s = fmt.Sprintf("resource version %d, %s", a.Resource.Version, strings.Join(bs, ", "))
	default:
		s = fmt.Sprintf("hold %s %s", a.Hold.ID, a.Hold.Status)
		if h := a.Hold; h.UserID != "u" { // the default user goes unsaid
			s += " of " + h.UserID
		}
		if h := a.Hold; h.Status == booking.StatusHeld && (h.Extensions > 0 || h.WaitlistEntryID != "") {
			s += fmt.Sprintf(" until %s (renewed %d, offered to %q)", rel(h.ExpiresAt), h.Extensions, h.WaitlistEntryID)
		}
		s += paymentString(a.Hold) // payment_scenario_test.go
	}
	if a.Replayed {
		if a.Entry != nil {
			s += ", offer hold " + a.Entry.Entry.OfferHoldID
		}
		s += " (replayed)"
	}
	if a.Stale {
		s += " (stale)"
	}
	return s
}

func bucketString(b booking.Bucket) string {
	return fmt.Sprintf("%s held %d confirmed %d of %d", b.Key, b.Held, b.Confirmed, b.Capacity)
}

func notesString(n Notes) string {
	var out []string
	for _, c := range []struct {
		name string
		v    int
	}{{"placed", n.Placed}, {"confirmed", n.Confirmed}, {"cancelled", n.Cancelled}, {"expired", n.Expired}, {"stale answers", n.Stale},
		{"extended", n.Extended}, {"joined", n.Joined}, {"left", n.Left}, {"offered", n.Offered}} {
		if c.v > 0 {
			out = append(out, fmt.Sprintf("%s %d", c.name, c.v))
		}
	}
	if n.Loaded {
		how := ""
		if n.HandedOver {
			how = ", handed over"
		}
		out = append(out, fmt.Sprintf("loaded after waiting %s for the previous lease%s", n.LeaseWait, how))
	}
	if n.LoadFailed {
		out = append(out, fmt.Sprintf("load failed, backing off %s", n.Backoff))
	}
	if n.Fenced {
		out = append(out, "fenced")
	}
	if n.RenewalEnded {
		out = append(out, "renewal "+map[Outcome]string{Committed: "ok", Fenced: "fenced", Unknown: "failed"}[n.Renewed])
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

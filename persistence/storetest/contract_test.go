package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/persistence/storetest"
)

// The suite is only worth something if it fails for broken stores. Each mutant below wraps
// a correct store (memstore) and breaks one promise; TestContractCatchesMutants runs the suite
// against each in a child process and expects the named subtest to fail.

const mutantEnv = "STORETEST_MUTANT"

type mutant struct {
	persistence.Store
	persistence.Outbox
	name string
}

func (m *mutant) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error) {
	if m.name == "claim-ignores-lease" {
		lease = 0
	}
	return m.Outbox.ClaimEvents(ctx, now, lease, limit)
}

func (m *mutant) Commit(ctx context.Context, b *persistence.Batch) error {
	switch m.name {
	case "ack-fenced":
		if err := m.Store.Commit(ctx, b); !errors.Is(err, persistence.ErrFenced) {
			return err
		}
		return nil
	case "ack-out-of-order":
		// Answers a batch refused for its version as if it applied.
		if err := m.Store.Commit(ctx, b); err != nil && !(errors.Is(err, persistence.ErrFenced) && strings.Contains(err.Error(), "version")) {
			return err
		}
		return nil
	case "hide-invalid":
		if err := m.Store.Commit(ctx, b); err != nil && !errors.Is(err, persistence.ErrFenced) {
			return nil
		}
		return nil
	case "second-precision":
		c := *b
		c.Holds = slices.Clone(b.Holds)
		for i := range c.Holds {
			c.Holds[i].UpdatedAt = c.Holds[i].UpdatedAt.Truncate(time.Second)
		}
		return m.Store.Commit(ctx, &c)
	case "non-atomic":
		// Writes the holds first and the buckets in a second batch.
		first := *b
		first.Buckets = nil
		if err := m.Store.Commit(ctx, &first); err != nil || len(b.Buckets) == 0 {
			return err
		}
		second := persistence.Batch{ResourceID: b.ResourceID, Epoch: b.Epoch, Version: b.Version, Resource: b.Resource, Buckets: b.Buckets}
		if b.Create {
			second.Epoch = 1
		}
		return m.Store.Commit(ctx, &second)
	case "ignore-ctx":
		return m.Store.Commit(context.Background(), b)
	case "lease-rounds-down":
		c := *b
		c.LeaseUntil = b.LeaseUntil.Truncate(time.Millisecond)
		return m.Store.Commit(ctx, &c)
	case "zero-lease-ends-lease":
		// A batch without a lease end ends the stored lease instead of leaving it.
		if err := m.Store.Commit(ctx, b); err != nil || !b.LeaseUntil.IsZero() {
			return err
		}
		epoch := b.Epoch
		if b.Create {
			epoch = 1
		}
		return m.Store.Renew(ctx, b.ResourceID, epoch, time.Time{})
	case "drop-events":
		c := *b
		c.Events = nil
		return m.Store.Commit(ctx, &c)
	case "remove-before-upsert":
		// Deletes WaitlistRemoved first, so an entry that joined and left in one batch stays.
		if b.Create || len(b.WaitlistRemoved) == 0 {
			return m.Store.Commit(ctx, b)
		}
		removal := persistence.Batch{ResourceID: b.ResourceID, Epoch: b.Epoch, Version: b.Version, Resource: b.Resource, WaitlistRemoved: b.WaitlistRemoved}
		if err := m.Store.Commit(ctx, &removal); err != nil {
			return err
		}
		c := *b
		c.WaitlistRemoved = nil
		return m.Store.Commit(ctx, &c)
	case "drop-allowance":
		c := *b
		c.Buckets = slices.Clone(b.Buckets)
		for i := range c.Buckets {
			c.Buckets[i].Allowance = 0
		}
		return m.Store.Commit(ctx, &c)
	case "drop-rules":
		c := *b
		c.Resource.MaxPerUser, c.Resource.Timezone = 0, ""
		return m.Store.Commit(ctx, &c)
	case "reorder-bucket-list":
		c := *b
		c.Holds = slices.Clone(b.Holds)
		for i := range c.Holds {
			c.Holds[i].Buckets = slices.Sorted(slices.Values(c.Holds[i].Buckets))
		}
		return m.Store.Commit(ctx, &c)
	}
	return m.Store.Commit(ctx, b)
}

func (m *mutant) Activate(ctx context.Context, id string, since time.Time) (*persistence.Snapshot, error) {
	switch m.name {
	case "ignore-idem-since":
		since = time.Time{}
	case "ignore-ctx":
		ctx = context.Background()
	case "leak-terminal":
		s, err := m.Store.Activate(ctx, id, since)
		if err == nil && s.Exists {
			all, _ := m.Store.ListHolds(ctx, persistence.HoldFilter{ResourceID: id, Limit: 1000})
			s.Holds = all
		}
		return s, err
	case "unordered-waitlist":
		s, err := m.Store.Activate(ctx, id, since)
		if err == nil {
			slices.Reverse(s.Waitlist)
		}
		return s, err
	case "activate-ends-lease":
		// Reports the previous lease but ends it: the activation after next waits for nothing.
		s, err := m.Store.Activate(ctx, id, since)
		if err == nil && s.Exists {
			err = m.Store.Renew(ctx, id, s.Epoch, time.Time{})
		}
		return s, err
	}
	return m.Store.Activate(ctx, id, since)
}

func (m *mutant) Renew(ctx context.Context, id string, epoch uint64, until time.Time) error {
	switch m.name {
	case "ack-fenced-renew":
		if err := m.Store.Renew(ctx, id, epoch, until); !errors.Is(err, persistence.ErrFenced) {
			return err
		}
		return nil
	case "lease-rounds-down":
		until = until.Truncate(time.Millisecond)
	case "ignore-ctx":
		ctx = context.Background()
	}
	return m.Store.Renew(ctx, id, epoch, until)
}

func (m *mutant) HandOver(ctx context.Context, id string, epoch uint64, until time.Time) error {
	s := m.Store.(persistence.LeaseHandover)
	if m.name == "hand-over-any-successor" {
		// Ends the lease below any later epoch: a late hand-over could end a lease that a
		// later activation's successor was handed.
		e, _, err := s.LeaseOf(ctx, id)
		if err == nil && e > epoch {
			epoch = e - 1
		}
	}
	return s.HandOver(ctx, id, epoch, until)
}

func (m *mutant) LeaseOf(ctx context.Context, id string) (uint64, time.Time, error) {
	return m.Store.(persistence.LeaseHandover).LeaseOf(ctx, id)
}

func (m *mutant) ListHolds(ctx context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	hs, err := m.Store.ListHolds(ctx, f)
	if m.name == "unordered-list" {
		slices.Reverse(hs)
	}
	return hs, err
}

func (m *mutant) ListWaitlist(ctx context.Context, f persistence.WaitlistFilter) ([]persistence.WaitlistPosition, error) {
	ps, err := m.Store.(*memstore.Store).ListWaitlist(ctx, f)
	if m.name == "position-from-zero" {
		for i := range ps {
			ps[i].Position--
		}
	}
	return ps, err
}

func (m *mutant) ListResources(ctx context.Context, f persistence.ResourceFilter) ([]booking.Resource, error) {
	rs, err := m.Store.(*memstore.Store).ListResources(ctx, f)
	if m.name == "resources-ignore-availability" && len(f.Keys) > 0 {
		f.Keys = nil
		f.Quantity = 0
		return m.Store.(*memstore.Store).ListResources(ctx, f)
	}
	return rs, err
}

func TestContractMemstore(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestMutantChild is the child process of TestContractCatchesMutants.
func TestMutantChild(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("child process of TestContractCatchesMutants")
	}
	storetest.RunContract(t, func(t *testing.T) persistence.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return &mutant{Store: s, Outbox: s, name: name}
	})
}

func TestContractCatchesMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, tc := range []struct{ mutant, failing string }{
		{"ack-fenced", "StaleEpochFenced"},
		{"ack-out-of-order", "VersionOrder"},
		{"hide-invalid", "CapacityCheck"},
		{"second-precision", "AfterImages"},
		{"non-atomic", "CapacityCheck"},
		{"ignore-ctx", "CancelledContext"},
		{"reorder-bucket-list", "AfterImages"},
		{"ignore-idem-since", "ActivateBumpsEpoch"},
		{"leak-terminal", "ActivateBumpsEpoch"},
		{"unordered-list", "ListHolds"},
		{"ack-fenced-renew", "RenewFenced"},
		{"lease-rounds-down", "LeaseRoundsUp"},
		{"hand-over-any-successor", "HandOver"},
		{"zero-lease-ends-lease", "LeaseOnCommit"},
		{"activate-ends-lease", "LeaseOnCommit"},
		{"drop-events", "OutboxCommit"},
		{"claim-ignores-lease", "OutboxClaim"},
		{"remove-before-upsert", "Waitlist"},
		{"drop-allowance", "AllowanceCheck"},
		{"drop-rules", "RuleColumns"},
		{"unordered-waitlist", "Waitlist"},
		{"position-from-zero", "ListWaitlist"},
		{"resources-ignore-availability", "ListResources"},
	} {
		t.Run(tc.mutant, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutantChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), mutantEnv+"="+tc.mutant)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with mutant %q", tc.mutant)
			}
			if want := "--- FAIL: TestMutantChild/" + tc.failing + " "; !strings.Contains(string(out), want) {
				t.Fatalf("mutant %q: want %q in the output:\n%s", tc.mutant, want, out)
			}
			if strings.Contains(string(out), "panic:") {
				t.Fatalf("mutant %q: the suite panicked:\n%s", tc.mutant, out)
			}
		})
	}
}

package bus

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/allot/allot/actors/events"
)

// TestEventsStreamWritesBlocksOf4MiB: the events stream's file store writes 4 MiB message
// blocks (unlimitedPerSubject), not the 8 MiB of a limits stream without limits: the server
// caches a block whole while it is written and read, so the block size is what the node holds
// in memory while events flow. Also that no event of the test is dropped by the per-subject
// limit: a few subjects with many messages each are all kept.
func TestEventsStreamWritesBlocksOf4MiB(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(b.Close)
	if b.ns == nil {
		t.Fatal("no embedded server")
	}
	ctx := context.Background()
	body := []byte(strings.Repeat("x", 4096))
	const msgs = 1400 // ~5.6 MiB: past one 4 MiB block, inside one 8 MiB block
	for i := range msgs {
		m := nats.NewMsg(fmt.Sprintf("%stest.placed.r%d", events.SubjectPrefix, i%7))
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("id-%d", i))
		m.Data = body
		if _, err := b.JetStream().PublishMsg(ctx, m); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if n := streamMsgs(t, b); n != msgs {
		t.Fatalf("stream holds %d messages, want %d", n, msgs)
	}
	var blocks []string
	err = filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".blk") && strings.Contains(path, string(filepath.Separator)+EventsStream+string(filepath.Separator)) {
			blocks = append(blocks, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 2 {
		t.Fatalf("the events stream wrote %d block files for ~5.6 MiB (%v), want blocks of at most 4 MiB", len(blocks), blocks)
	}
}

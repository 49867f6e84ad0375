package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const childEnv = "PGTEST_CHILD_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childServer()
		return
	}
	Main(m)
}

// childServer starts a server, reports its postmaster pid and directory, and waits to be
// killed: the parent checks that postgres does not outlive it.
func childServer() {
	s, err := newLocalServer()
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	s.mu.Lock()
	pid := s.proc.cmd.Process.Pid
	s.mu.Unlock()
	fmt.Printf("SERVER %d %s\n", pid, s.dir)
	select {}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestMustServerIsSharedAndConfigured(t *testing.T) {
	s := MustServer(t)
	if s2 := MustServer(t); s2 != s {
		t.Fatal("MustServer returned two servers in one test binary")
	}
	conn := connect(t, s.MustDatabase(t))
	if got := queryString(t, conn, "SHOW default_transaction_isolation"); got != "serializable" {
		t.Errorf("default_transaction_isolation = %q, want serializable", got)
	}
	if s.External() {
		return // the rest is how a local server is set up
	}
	for setting, want := range map[string]string{
		"fsync":                   "on",
		"synchronous_commit":      "on",
		"listen_addresses":        "127.0.0.1",
		"max_connections":         "200",
		"unix_socket_directories": s.dir,
	} {
		if got := queryString(t, conn, "SHOW "+setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if v := queryString(t, conn, "SHOW server_version"); !strings.HasPrefix(v, "15") && strings.Contains(s.bins.postgres, "/15/") {
		t.Errorf("server_version = %q from %s", v, s.bins.postgres)
	}
	if !strings.Contains(s.URL("x"), "127.0.0.1:") {
		t.Errorf("URL %q is not on 127.0.0.1", s.URL("x"))
	}
}

func TestMustDatabaseIsolatesAndDrops(t *testing.T) {
	s := MustServer(t)
	var names [2]string
	t.Run("create", func(t *testing.T) {
		a, b := s.MustDatabase(t), s.MustDatabase(t)
		if a == b {
			t.Fatalf("two databases share the URL %s", a)
		}
		ca, cb := connect(t, a), connect(t, b)
		ctx := context.Background()
		if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		if _, err := cb.Exec(ctx, "SELECT 1 FROM only_in_a"); err == nil {
			t.Fatal("a table created in one database is visible in another")
		}
		names[0] = queryString(t, ca, "SELECT current_database()")
		names[1] = queryString(t, cb, "SELECT current_database()")
		// ca and cb stay open: the drop must end them.
	})
	admin := connect(t, s.adminURL())
	for _, n := range names {
		var count int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", n).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 0 {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
}

func TestStopStartAndCrashKeepCommittedData(t *testing.T) {
	s := MustNewServer(t)
	url := s.MustDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x INT PRIMARY KEY); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	port := s.Port()

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if c, err := pgx.Connect(cctx, url); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	cancel()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start of a running server succeeded")
	}
	if s.Port() != port {
		t.Fatalf("port changed from %d to %d", port, s.Port())
	}
	conn2 := connect(t, url)
	if _, err := conn2.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	conn2.Close(ctx)

	if err := s.Crash(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, connect(t, url), "SELECT string_agg(x::text, ',' ORDER BY x) FROM t"); got != "1,2" {
		t.Fatalf("after stop, start and crash the table holds %q, want 1,2", got)
	}
}

// TestServerDiesWithTestBinary kills a test binary that runs a server with SIGKILL (nothing
// of it runs afterwards) and checks that postgres goes too and the next start cleans up.
func TestServerDiesWithTestBinary(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skipf("%s is set: no local server", EnvURL)
	}
	if _, err := findBinaries(); err != nil {
		fail(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child: %v (%q)", err, line)
	}
	var pid int
	var dir string
	if _, err := fmt.Sscanf(line, "SERVER %d %s", &pid, &dir); err != nil {
		t.Fatalf("child said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("postmaster %d is not running", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Another process's exit cannot be waited for; poll it, bounded.
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still runs 30s after its test binary was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
		t.Fatalf("the child's directory should still be there: %v", err)
	}
	removeOrphans(filepath.Dir(dir))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("orphaned directory %s was not removed: %v", dir, err)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"TestX/sub_test#01":                      "testx_sub_test_01",
		"ThisIsAVeryLongTestNameThatGoesOnAndOn": "thisisaverylongtestnamet",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

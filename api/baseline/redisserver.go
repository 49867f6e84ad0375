package baseline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a throwaway redis-server for tests, durable as the Redis baseline needs it:
// appendonly yes, appendfsync always, no RDB snapshots, on 127.0.0.1.
type RedisServer struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Dir holds the AOF and the server's log (redis.log).
	Dir string
}

// MustRedis starts Debian's redis-server on 127.0.0.1 on a free port, with its data in a
// temporary directory, and stops it when tb ends. When redis-server is not installed it skips
// tb (`make deps` installs it), unless the environment variable CI is set: then it fails.
func MustRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "" {
			tb.Skip("baseline: redis-server is not installed (make deps installs it; apt-get install redis-server)")
		}
		tb.Fatalf("baseline: redis-server is not installed, and CI is set: %v", err)
	}
	dir := tb.TempDir()
	var lastErr error
	for range 3 { // the free port may be taken between probe and start
		port, err := freePort()
		if err != nil {
			tb.Fatalf("baseline: %v", err)
		}
		s := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
		cmd := exec.Command(bin,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "",
			"--daemonize", "no", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"))
		// redis-server gets SIGKILL when the thread that started it dies; that thread is
		// pinned until redis-server exits, so that is when the test binary dies.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		started, exited := make(chan error, 1), make(chan struct{})
		go func() {
			defer close(exited)
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			if err := cmd.Start(); err != nil {
				started <- err
				return
			}
			started <- nil
			_ = cmd.Wait()
		}()
		if err := <-started; err != nil {
			tb.Fatalf("baseline: start redis-server: %v", err)
		}
		if lastErr = s.waitReady(exited); lastErr == nil {
			tb.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			return s
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	tb.Fatalf("baseline: redis-server did not start: %v\n%s", lastErr, log)
	return nil
}

// waitReady pings the server until it answers, it exits, or 10s pass.
func (s *RedisServer) waitReady(exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited")
		case <-time.After(20 * time.Millisecond): // readiness poll: redis-server signals nothing else
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within 10s: %w", err)
		}
	}
}

// Client returns a client of the server, closed when tb ends.
func (s *RedisServer) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

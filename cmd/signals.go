package cmd

import (
	"errors"
	"log/slog"
	"os"
	"time"
)

// What a node does on SIGINT and SIGTERM (both mean the same):
//
//   - the first signal starts a graceful drain (Main.Close, bounded by --leave-timeout);
//   - a second signal during the drain is logged and ignored: the drain goes on (an operator
//     pressing Ctrl-C again, or a supervisor that sends SIGTERM after the terminal's SIGINT,
//     must not cut a leave short and strand the node's resources until their leases end);
//   - a third signal exits at once with status 1, without finishing the drain (acknowledged
//     changes are durable anyway; unfinished actors' resources wait out their lease).

// errInterrupted is returned when the third signal cut the drain short.
var errInterrupted = errors.New("third signal: exited without finishing the drain")

// drainOnSignals runs drain after the first signal (already received) and watches sigs
// while it runs. exit is os.Exit in production; if it returns (tests), drainOnSignals
// returns errInterrupted without waiting for drain. The drain goroutine ends when drain
// returns, which --leave-timeout bounds.
func drainOnSignals(first os.Signal, sigs <-chan os.Signal, drain func() error, exit func(int), log *slog.Logger, deadline time.Duration) error {
	log.Info("signal received: draining; a second signal is ignored, a third exits at once", "signal", first.String(), "deadline", deadline)
	done := make(chan error, 1)
	go func() { done <- drain() }()
	count := 1
	for {
		select {
		case err := <-done:
			return err
		case s := <-sigs:
			count++
			if count == 2 {
				log.Warn("second signal during the drain: still draining (a third exits at once)", "signal", s.String())
				continue
			}
			log.Error("third signal: exiting without finishing the drain", "signal", s.String())
			exit(1)
			return errInterrupted
		}
	}
}

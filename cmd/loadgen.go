package cmd

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/allot/allot/api/loadgen"
)

// exitError carries a subcommand's own exit code through Execute.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func runLoadgen(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if code := loadgen.Command(ctx, args, stdout, stderr); code != 0 {
		return exitError(code)
	}
	return nil
}

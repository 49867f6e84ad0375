// Command allot runs an Allot node, applies migrations, or generates load. All the logic is in
// package cmd so that tests can boot the real program in-process.
package main

import (
	"os"

	"github.com/allot/allot/cmd"
)

func main() { os.Exit(cmd.Execute(os.Args[1:], os.Stdout, os.Stderr)) }

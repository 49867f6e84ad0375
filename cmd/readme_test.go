package cmd

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// nodeFlagTable renders `allot node`'s flags as the README's Markdown table: name, default
// (empty when the default is the zero value) and the flag's own help text.
func nodeFlagTable() string {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := DefaultNodeConfig()
	c.RegisterFlags(fs)
	var b strings.Builder
	b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = "`" + f.DefValue + "`"
		}
		usage := strings.ReplaceAll(f.Usage, "|", `\|`)
		fmt.Fprintf(&b, "| `--%s` | %s | %s |\n", f.Name, def, usage)
	})
	return b.String()
}

// TestREADMEFlagTable fails when the README's flag table ("Running a node") and the node's
// flags disagree: a flag added, removed, renamed, or a default or help text changed. The
// failure prints the table to paste.
func TestREADMEFlagTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := nodeFlagTable()
	if !strings.Contains(string(readme), want) {
		t.Fatalf("README.md's flag table under \"Running a node\" does not match `allot node`'s flags; replace it with:\n\n%s", want)
	}
}

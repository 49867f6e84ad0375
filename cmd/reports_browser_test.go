package cmd

import (
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console/consoletest"
)

// TestMainConsoleInBrowser loads /console from the real program in chromium: a customer's
// token is refused; an operator with MFA, signed in with a pasted dev token, sees the
// cluster page (this node, hosting the resource), the live sale of the resource booked
// through the API, and the reports page with the numbers the API answers.
func TestMainConsoleInBrowser(t *testing.T) {
	m := MustRunMain(t)
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	w := walkReports(t, c, "hall-1")
	waitReports(t, c, "hall-1", w)
	ctx := consoletest.Browser(t) // closed before the node (cleanups run last first)

	consoletest.Navigate(t, ctx, c.base+"/console")
	consoletest.SignIn(t, ctx, c.token(auth.TokenSpec{Subject: "u-1", TTL: time.Hour}))
	consoletest.WaitText(t, ctx, "#status", "Not allowed (403): the token's roles do not allow this. The console needs the operator role and a second factor (MFA).")

	consoletest.SignIn(t, ctx, c.token(reportsOperator))
	consoletest.WaitText(t, ctx, "#members-count", "1")
	consoletest.WaitText(t, ctx, "#members-alive", "1 / 1")
	consoletest.WaitPoll(t, ctx, `Number(document.querySelector("#activations").textContent) >= 1`)

	consoletest.Navigate(t, ctx, c.base+"/console/#/live/hall-1")
	consoletest.WaitText(t, ctx, "#sold-total", "4") // two confirmed holds of two nights
	consoletest.WaitText(t, ctx, "#held-total", "2")
	consoletest.WaitText(t, ctx, "#rate-429", "0")
	consoletest.WaitPoll(t, ctx, `document.querySelectorAll("#live-members tbody tr").length === 1`)

	consoletest.Navigate(t, ctx, c.base+"/console/#/reports")
	consoletest.WaitText(t, ctx, "#rep-total-placed", "4")
	consoletest.WaitText(t, ctx, "#rep-total-confirmed", "2")
	consoletest.WaitText(t, ctx, "#rep-conversion", "50.0%")
	consoletest.WaitPoll(t, ctx, `/480/.test(document.querySelector("#rep-net-EUR").textContent.replace(/[,.\s]/g, ""))`)
}

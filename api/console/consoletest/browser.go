// Package consoletest drives the operator console (api/console) in Debian's chromium with
// chromedp, for the console's own tests and for tests that boot a real node (cmd). It is a
// test harness: nothing in the shipped binary imports it.
package consoletest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds each wait.
const Timeout = 15 * time.Second

// Browser starts chromium, headless, closed when the test ends. Without it the test skips,
// except under CI=true, where it fails: CI installs it (.ci/install-deps).
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; run .ci/install-deps")
		}
		t.Skip("chromium is not installed (.ci/install-deps installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// WaitText waits until the element sel's text is want.
func WaitText(t testing.TB, ctx context.Context, sel, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === %q`, sel, want)
	deadline := time.Now().Add(Timeout)
	var err error
	for {
		// A navigation (the OIDC redirects) ends a poll early, with the page or its context
		// gone: poll again in the new page.
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || time.Now().After(deadline) || strings.Contains(err.Error(), "timeout") {
			break
		}
	}
	if err != nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, _ := chromedp.Run(dctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
		status, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		t.Fatalf("%s: text %q, want %q (status %q): %v", sel, got, want, status, err)
	}
}

// WaitPoll waits until the JavaScript expression expr is true.
func WaitPoll(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(Timeout))); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("status") || {}).textContent || ""`))
		t.Fatalf("%s (status %q): %v", expr, status, err)
	}
}

// WaitVisible waits until sel is visible.
func WaitVisible(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s not visible: %v", sel, err)
	}
}

// Navigate loads url.
func Navigate(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
}

// SignIn pastes tok into the console's dev token form and submits it.
func SignIn(t testing.TB, ctx context.Context, tok string) {
	t.Helper()
	WaitVisible(t, ctx, "#token")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#token"), tok), chromedp.Click(chromedp.CSS("#token-form button"))); err != nil {
		t.Fatal(err)
	}
}

// Screenshot returns a PNG of the whole page.
func Screenshot(t testing.TB, ctx context.Context) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

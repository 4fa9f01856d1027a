package connector_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/queue"
)

// chromiumPath is Debian's Chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile, page scripts
// switched off (the page must work without them). Without Chromium the
// test fails on CI (CI=true) and is skipped elsewhere.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is missing on CI (%v): apt-get install chromium", err)
		}
		t.Skipf("Chromium is not installed (%v): apt-get install chromium", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// artifactsDir is where a test leaves files for a person to look at.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ERPCONNECTOR_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserStatusPage drives the status page in a real headless
// Chromium with scripts off: the login with the token, the run history
// with the scan's counts, the replay button of a dead letter (the record,
// fixed in the ERP, is delivered and leaves the dead letters), and the
// search for an ERP key, which shows its trail.
func TestBrowserStatusPage(t *testing.T) {
	ctx := browser(t)
	w, refused := refusedWorld(t, 10, 2, worldOpts{})
	w.sync()
	hs := httptest.NewServer(w.conn.AdminHandler(connector.AdminOptions{Token: pageToken}))
	defer hs.Close()
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	submit := func(button string) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
			t.Fatalf("click %s: %v", button, err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), pageToken)); err != nil {
		t.Fatal(err)
	}
	submit(`#login button`)
	scan := latestRun(t, w, connector.RunNewCustomers)
	row := `tr[data-run="` + strconvFormat(scan.ID) + `"][data-platform="one"]`
	if got := text(row + ` td.created`); got != strconvFormat(uint64(scan.Platforms["one"].Created)) || got == "0" {
		t.Fatalf("created of the scan on the page %q, want %d", got, scan.Platforms["one"].Created)
	}
	if got := text(row + ` td.rejected`); got != "2" {
		t.Fatalf("rejected of the scan on the page %q, want 2", got)
	}

	// Fixed in the ERP (no scan runs), then replayed from the page.
	fixed := refused[0]
	oneHarness.fix(&fixed)
	w.put(fixed)
	var id uint64
	for _, d := range deadLetters(t, w, oneHarness) {
		if d.Key == "one:push:"+fixed.Key {
			id = d.ID
		}
	}
	if id == 0 {
		t.Fatalf("no dead letter of %s", fixed.Key)
	}
	submit(`#dead-` + strconvFormat(id) + ` button.replay`)
	if got := text(`#flash`); !strings.Contains(got, "replayed: 1") {
		t.Fatalf("flash after the replay: %q", got)
	}
	w.idle()
	if _, err := w.conn.Store().DeadLetter(context.Background(), id); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("the replayed dead letter is still there: %v", err)
	}
	for _, d := range deadLetters(t, w, oneHarness) {
		if d.Key == "one:push:"+fixed.Key {
			t.Fatalf("the fixed record is dead again: %s", d.LastError)
		}
	}
	if oneHarness.id(w, fixed.Key) == "" {
		t.Fatalf("the replayed record %s is not on the platform\n%s", fixed.Key, w.logLines())
	}

	// Its trail: refused, then created.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`#search input[name=key]`), fixed.Key)); err != nil {
		t.Fatal(err)
	}
	submit(`#search button`)
	trail := text(`#trace`)
	if !strings.Contains(trail, "Trail of "+fixed.Key) || !strings.Contains(trail, "refused") || !strings.Contains(trail, "created") ||
		!strings.Contains(trail, oneHarness.id(w, fixed.Key)) {
		t.Fatalf("trail on the page:\n%s", trail)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir(t), "status-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the status page: %s", path)
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
)

// consoleShots is where TestConsole saves its screenshots (the README names
// it): the repository's test-artifacts/console.
var consoleShots = filepath.Join("..", "..", "test-artifacts", "console")

// TestConsole drives the console in a real headless Chromium against quell
// serve with API tokens: an Alertmanager webhook opens two incidents; the
// page asks for the token, lists both, opens one with the reason its alert
// is there, and merges it into the other through its merge control, as an
// operator named in the page. The API then shows the merge, by that
// operator. Screenshots of the three steps go to test-artifacts/console.
func TestConsole(t *testing.T) {
	chromium := testenv.Chromium(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "api-tokens")
	writeFile(t, tokens, "console-token\n")
	e := newEmbedded(t, filepath.Join(dir, "data"), "api_token_files: ["+tokens+"]\ncorrelate:\n  group_wait: 1s\n  reopen_window: 1s\n")
	p := e.start(t)
	p.wantCleanExit = true
	eventually(t, p, "ready", e.ready)

	// webhook posts Alertmanager's notification of the two alerts, firing or resolved.
	webhook := func(status string) {
		t.Helper()
		ends := "0001-01-01T00:00:00Z"
		if status == "resolved" {
			ends = time.Now().UTC().Format(time.RFC3339)
		}
		starts := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		body := `{"version":"4","groupKey":"{}:{}","status":"` + status + `","receiver":"quell","groupLabels":{},"commonLabels":{},
			"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[
			{"status":"` + status + `","labels":{"alertname":"HighLatency","service":"checkout","severity":"critical"},
			 "annotations":{"summary":"p99 latency above 2s","runbook_url":"https://runbooks.example.com/HighLatency"},"startsAt":"` + starts + `","endsAt":"` + ends + `"},
			{"status":"` + status + `","labels":{"alertname":"DiskFull","service":"db","severity":"warning"},
			 "annotations":{"summary":"disk 97% full","runbook_url":"javascript:alert(document.domain)"},"startsAt":"` + starts + `","endsAt":"` + ends + `"}]}`
		postOK(t, e.url("/webhooks/alertmanager"), []byte(body))
	}
	webhook("firing")
	var checkout, db quell.Incident
	eventually(t, p, "two incidents", func() (bool, string) {
		incs, err := authedIncidents(e.url("/api/v1/incidents?status=open"), "console-token")
		if err != nil {
			return false, err.Error()
		}
		for _, inc := range incs {
			switch inc.Alerts[0].Labels["service"] {
			case "checkout":
				checkout = inc
			case "db":
				db = inc
			}
		}
		return len(incs) == 2 && checkout.ID != "" && db.ID != "", fmt.Sprint(len(incs))
	})
	// Past group_wait (1s) both are announced, as an operator finds them; an
	// incident merged younger than that merges away silently (nothing had
	// announced it), and a fast browser merged one so in CI.
	time.Sleep(1500 * time.Millisecond)

	if err := os.MkdirAll(consoleShots, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(consoleShots, name), png, 0o644)
		}
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))...)
	defer cancel()
	browser, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(browser); err != nil { // starts the browser, which lives as long as this context
		t.Fatalf("starting %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()

	// step runs actions, each within 20 s, and on a failure shows the page.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, a := range actions {
			actx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(actx, a)
			cancel()
			if err != nil {
				chromedp.Do(ctx, shot("failed.png"))
				page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
				url, _ := chromedp.Run(ctx, chromedp.Location())
				t.Fatalf("%s, action %d: %v\nthe page (%s, shot in failed.png):\n%s", what, i+1, err, url, page)
			}
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	step("the list, after the token",
		chromedp.Navigate(e.url("/")),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#token"), "console-token"),
		chromedp.Click(chromedp.CSS("#login button")),
		chromedp.WaitVisible(chromedp.CSS(`#incidents tr[data-id="`+checkout.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#incidents tr[data-id="`+db.ID+`"]`)),
		shot("1-incidents.png"))
	step("the db incident, with its reason",
		chromedp.Click(chromedp.CSS(`#incidents tr[data-id="`+db.ID+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#alerts .reason")),
		shot("2-incident.png"))
	if reason := text("#alerts .reason"); !strings.Contains(reason, "opened the incident") {
		t.Fatalf("the db alert's reason on its page: %q", reason)
	}
	// An alert's annotations are text: a javascript: runbook URL is no link.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href^="javascript:" i]').length`)); err != nil || n != 0 {
		t.Fatalf("links to javascript: URLs on the page: %d (%v)", n, err)
	}
	dbFP := db.Alerts[0].Fingerprint.String()
	step("merging db into checkout",
		chromedp.SendKeys(chromedp.CSS("#actor"), "alice"),
		chromedp.SetValue(chromedp.CSS("#merge-into"), checkout.ID),
		chromedp.Click(chromedp.CSS("#merge")),
		chromedp.WaitVisible(chromedp.CSS(`#alerts tr[data-fingerprint="`+dbFP+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline .event.merged`)),
		shot("3-merged.png"))
	title := text("#title")
	if !strings.Contains(title, "checkout") {
		t.Fatalf("after the merge the page shows %q; want checkout's incident", title)
	}

	incs, err := authedIncidents(e.url("/api/v1/incidents?status=open"), "console-token")
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].ID != checkout.ID || len(incs[0].Alerts) != 2 {
		t.Fatalf("after the merge the API lists %d open incidents (%+v); want checkout's with both alerts", len(incs), incs)
	}
	var merged quell.Incident
	if err := getJSONWith(e.url("/api/v1/incidents/"+db.ID), "console-token", &merged); err != nil {
		t.Fatal(err)
	}
	if merged.MergedInto != checkout.ID || merged.ResolvedBy != "alice" {
		t.Fatalf("the db incident: merged into %q by %q; want %s by alice", merged.MergedInto, merged.ResolvedBy, checkout.ID)
	}

	// alice resolves it on the page; the alerts resolve; once the reopen
	// window passed, the same storm again is a new incident, shown as one
	// that happened before and who resolved it.
	step("resolving through the page",
		chromedp.Click(chromedp.CSS("#resolve")),
		chromedp.WaitVisible(chromedp.CSS("#state.resolved")))
	// A resolved incident's page leaves its controls out, and nothing in their place.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.getElementById("main").childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim()).length`)); err != nil || n != 0 {
		t.Fatalf("stray text beside the resolved incident's sections: %d (%v)", n, err)
	}
	webhook("resolved")
	time.Sleep(2500 * time.Millisecond) // reopen_window (1s) and a tick: the correlator lets it go
	webhook("firing")
	var again quell.Incident
	eventually(t, p, "the storm again", func() (bool, string) {
		incs, err := authedIncidents(e.url("/api/v1/incidents?status=open"), "console-token")
		if err != nil || len(incs) == 0 {
			return false, fmt.Sprint(len(incs), err)
		}
		again = incs[0]
		return again.ID != checkout.ID && again.Recurrence != nil, fmt.Sprintf("%+v", again.Recurrence)
	})
	step("the storm again, seen before",
		chromedp.Navigate(e.url("/#/incidents/"+again.ID)),
		chromedp.WaitVisible(chromedp.CSS("#recurrence")),
		shot("4-recurring.png"))
	if rec := text("#recurrence"); !strings.Contains(rec, checkout.ID) || !strings.Contains(rec, "by alice") {
		t.Fatalf("the recurring incident's page says %q; want the last one, %s, resolved by alice", rec, checkout.ID)
	}
}

// authedIncidents lists incidents with a bearer token.
func authedIncidents(url, token string) ([]quell.Incident, error) {
	var page struct{ Incidents []quell.Incident }
	err := getJSONWith(url, token, &page)
	return page.Incidents, err
}

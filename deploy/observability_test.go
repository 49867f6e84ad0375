package deploy

import (
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// nodeMetrics is the catalogue of metrics the node exports, by type (checked against a
// running node's /metrics). The dashboard, the
// alerts and docs/OPERATIONS.md may name no other allot_ series.
var nodeMetrics = map[string]string{
	"allot_holds_total":                      "counter",
	"allot_confirms_total":                   "counter",
	"allot_cancels_total":                    "counter",
	"allot_expiries_total":                   "counter",
	"allot_rejections_total":                 "counter", // {reason}
	"allot_batch_size":                       "histogram",
	"allot_commit_seconds":                   "histogram",
	"allot_mailbox_depth":                    "gauge",
	"allot_cluster_members":                  "gauge",
	"allot_cluster_activations":              "gauge",
	"allot_cluster_forwarded_requests_total": "counter",
	"allot_cluster_forward_seconds":          "histogram",
	"allot_http_requests_total":              "counter", // {route,code}
	"allot_http_request_seconds":             "histogram",
	// Exported by the node beyond the original list.
	"allot_activations_total": "counter",
	"allot_fenced_total":      "counter",
	// Booking rules (actors/resource) and the event relay (cluster/bus).
	"allot_hold_extensions_total":    "counter",
	"allot_waitlist_events_total":    "counter", // {event}: joined, left, offered
	"allot_waitlist_entries":         "gauge",
	"allot_events_published_total":   "counter",
	"allot_events_republished_total": "counter",
	"allot_event_relay_lag_seconds":  "histogram",
	"allot_event_relay_held":         "gauge",
	"allot_event_outbox_backlog":     "gauge",
	// Webhook deliveries (api/webhooks/metrics.go).
	"allot_webhook_delivery_lag_seconds": "histogram",
	// Notifications (api/notify/metrics.go).
	"allot_notifications_total":               "counter", // {channel,kind,outcome}
	"allot_notification_handoff_seconds":      "histogram",
	"allot_notification_manual_retries_total": "counter",
	// The active-resource cap (actors/resource/activecap.go).
	"allot_active_resources":                  "gauge",
	"allot_quiet_resources":                   "gauge",
	"allot_passivations_under_pressure_total": "counter",
	"allot_activations_refused_total":         "counter",
}

var metricRef = regexp.MustCompile(`\ballot_[a-z0-9_]+`)

// metricsIn returns the catalogue names a text uses and an error for any allot_ series
// outside the catalogue (histogram series may carry _bucket, _sum or _count). In a query
// (prose false) a histogram must be named by one of those series.
func metricsIn(expr string, prose bool) ([]string, error) {
	var used []string
	for _, ref := range metricRef.FindAllString(expr, -1) {
		name := ref
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(ref, suffix); ok && nodeMetrics[base] == "histogram" {
				name = base
			}
		}
		if _, ok := nodeMetrics[name]; !ok {
			return used, fmt.Errorf("%s is not a metric of the node", ref)
		}
		if !prose && ref == name && nodeMetrics[name] == "histogram" {
			return used, fmt.Errorf("%s is a histogram: use %s_bucket, _sum or _count", ref, ref)
		}
		used = append(used, name)
	}
	return used, nil
}

// dashboardPanel is the part of a Grafana panel the check reads.
type dashboardPanel struct {
	ID      int              `json:"id"`
	Type    string           `json:"type"`
	Title   string           `json:"title"`
	Panels  []dashboardPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// checkDashboard wants valid JSON with unique panel ids, every expression on catalogue
// metrics, and every catalogue metric on some panel.
func checkDashboard(data []byte) []error {
	var d struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return []error{fmt.Errorf("dashboard: %w", err)}
	}
	var errs []error
	if d.UID == "" || d.Title == "" {
		errs = append(errs, fmt.Errorf("dashboard needs a uid and a title"))
	}
	ids, used := map[int]bool{}, map[string]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				errs = append(errs, fmt.Errorf("panel %q: duplicate id %d", p.Title, p.ID))
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				errs = append(errs, fmt.Errorf("panel %q has no query", p.Title))
			}
			for _, t := range p.Targets {
				names, err := metricsIn(t.Expr, false)
				if err != nil {
					errs = append(errs, fmt.Errorf("panel %q: %w", p.Title, err))
				}
				for _, n := range names {
					used[n] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, name := range sortedKeys(nodeMetrics) {
		if !used[name] {
			errs = append(errs, fmt.Errorf("dashboard shows nothing of %s", name))
		}
	}
	return errs
}

type alertRules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// checkAlerts wants every rule on catalogue metrics, with a severity, a summary and a
// runbook section in docs/OPERATIONS.md.
func checkAlerts(data []byte, operations string) []error {
	var rules alertRules
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		return []error{fmt.Errorf("alerts: %w", err)}
	}
	var errs []error
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if _, err := metricsIn(r.Expr, false); err != nil {
				errs = append(errs, fmt.Errorf("alert %s: %w", r.Alert, err))
			}
			if !slices.Contains([]string{"warning", "critical"}, r.Labels["severity"]) {
				errs = append(errs, fmt.Errorf("alert %s: severity %q, want warning or critical", r.Alert, r.Labels["severity"]))
			}
			if r.Annotations["summary"] == "" || r.Expr == "" || r.Alert == "" {
				errs = append(errs, fmt.Errorf("alert %q: needs a name, an expr and a summary", r.Alert))
			}
			if !strings.Contains(operations, "#### "+r.Alert+"\n") {
				errs = append(errs, fmt.Errorf("alert %s: no '#### %s' section in docs/OPERATIONS.md", r.Alert, r.Alert))
			}
		}
	}
	if n == 0 {
		errs = append(errs, fmt.Errorf("no alerting rules"))
	}
	return errs
}

var envRef = regexp.MustCompile(`\bALLOT_[A-Z0-9_]+`)

// checkOperations wants the metrics and environment variables the runbook names to exist.
func checkOperations(doc string) []error {
	var errs []error
	if _, err := metricsIn(doc, true); err != nil {
		errs = append(errs, fmt.Errorf("docs/OPERATIONS.md: %w", err))
	}
	known := map[string]bool{}
	for _, fs := range []*flag.FlagSet{newNodeFlagSet(), newMigrateFlagSet()} {
		fs.VisitAll(func(f *flag.Flag) { known[envName(f.Name)] = true })
	}
	for _, ref := range envRef.FindAllString(doc, -1) {
		if !known[ref] {
			errs = append(errs, fmt.Errorf("docs/OPERATIONS.md: %s is no flag's environment variable", ref))
		}
	}
	return errs
}

func TestObservability(t *testing.T) {
	ops := mustReadFile(t, "../docs/OPERATIONS.md")
	for _, err := range checkDashboard([]byte(mustReadFile(t, "grafana/allot-dashboard.json"))) {
		t.Error(err)
	}
	for _, err := range checkAlerts([]byte(mustReadFile(t, "prometheus/allot-alerts.yaml")), ops) {
		t.Error(err)
	}
	for _, err := range checkOperations(ops) {
		t.Error(err)
	}
}

func TestObservabilityCatchesBreakage(t *testing.T) {
	dash := mustReadFile(t, "grafana/allot-dashboard.json")
	alerts := mustReadFile(t, "prometheus/allot-alerts.yaml")
	ops := mustReadFile(t, "../docs/OPERATIONS.md")
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"dashboard metric renamed", "dashboard", "allot_expiries_total", "allot_expired_total", "allot_expired_total is not a metric"},
		{"histogram queried raw", "dashboard", "rate(allot_commit_seconds_bucket{", "rate(allot_commit_seconds{", "is a histogram"},
		{"alert on a missing metric", "alerts", "max(allot_mailbox_depth)", "max(allot_mailbox_size)", "allot_mailbox_size"},
		{"alert without severity", "alerts", "severity: critical\n        annotations:\n          summary: \"No Allot", "page: yes\n        annotations:\n          summary: \"No Allot", "severity"},
		{"alert without runbook", "ops", "#### AllotOverloaded\n", "#### Overloaded\n", "no '#### AllotOverloaded' section"},
		{"relay alert on a missing metric", "alerts", "max(allot_event_outbox_backlog)", "max(allot_events_backlog)", "allot_events_backlog"},
		{"lag alert on the raw histogram", "alerts", "rate(allot_event_relay_lag_seconds_bucket[5m])", "rate(allot_event_relay_lag_seconds[5m])", "is a histogram"},
		{"webhook lag metric renamed", "alerts", "rate(allot_webhook_delivery_lag_seconds_bucket[5m])", "rate(allot_webhook_lag_seconds_bucket[5m])", "allot_webhook_lag_seconds_bucket is not a metric"},
		{"webhook lag alert without runbook", "ops", "#### AllotWebhookDeliveryLagHigh\n", "#### WebhookDeliveryLagHigh\n", "no '#### AllotWebhookDeliveryLagHigh' section"},
		{"runbook names a missing variable", "ops", "ALLOT_DB_MAX_CONNS", "ALLOT_DB_POOL", "ALLOT_DB_POOL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"dashboard": dash, "alerts": alerts, "ops": ops}
			if !strings.Contains(files[tc.file], tc.old) {
				t.Fatalf("%s does not contain %q", tc.file, tc.old)
			}
			files[tc.file] = strings.Replace(files[tc.file], tc.old, tc.new, 1)
			errs := append(checkDashboard([]byte(files["dashboard"])), checkAlerts([]byte(files["alerts"]), files["ops"])...)
			errs = append(errs, checkOperations(files["ops"])...)
			if !mentions(errs, tc.want) {
				t.Errorf("want an error mentioning %q, got %v", tc.want, errs)
			}
		})
	}
}

package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one Run. Counts are of logical requests (a request and its
// retries count once) unless said otherwise.
type Report struct {
	RunID    string
	Scenario string
	Targets  []string
	Clients  int
	Started  time.Time
	// Elapsed is the load phase: from the first client request to the last answer; resource
	// setup, reconciliation and audit are not included.
	Elapsed time.Duration
	// Ops counts operations finished in the load phase, whatever their outcome; OpsPerSec is
	// Ops / Elapsed.
	Ops       int64
	OpsPerSec float64
	// Holds counts holds acknowledged (201); HoldsPerSec is Holds / Elapsed.
	Holds       int64
	HoldsPerSec float64
	// SoldOut counts hold requests answered 409 sold_out (an expected answer).
	SoldOut  int64
	Confirms int64 // confirms answered 200
	Cancels  int64 // cancels answered 200
	Reads    int64 // availability reads answered 200
	// Retries counts HTTP attempts beyond the first of each request.
	Retries int64
	// Errors counts requests that failed after their retries (unexpected status, transport
	// error, timeout); ErrorSamples shows a few of them.
	Errors       int64
	ErrorSamples []string `json:",omitempty"`
	// StatusCodes counts HTTP attempts by status; 0 counts transport errors and timeouts.
	StatusCodes map[int]int64
	// Latency is by operation kind (the Op constants), per logical request: retries and
	// their waits included, as the user of the app experiences it.
	Latency map[string]LatencyStats
	// Stock is the flash-sale stock; Sold is held+confirmed of the hot resource as read
	// back from the server after the run (0 and 0 without a flash-sale resource).
	Stock int64
	Sold  int64
	// Audit is the correctness verdict.
	Audit Audit
}

// MarshalJSON writes Elapsed as elapsed_seconds and the rest with snake_case keys.
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RunID        string                  `json:"run_id"`
		Scenario     string                  `json:"scenario"`
		Targets      []string                `json:"targets"`
		Clients      int                     `json:"clients"`
		Started      time.Time               `json:"started"`
		Elapsed      float64                 `json:"elapsed_seconds"`
		Ops          int64                   `json:"ops"`
		OpsPerSec    float64                 `json:"ops_per_sec"`
		Holds        int64                   `json:"holds"`
		HoldsPerSec  float64                 `json:"holds_per_sec"`
		SoldOut      int64                   `json:"sold_out"`
		Confirms     int64                   `json:"confirms"`
		Cancels      int64                   `json:"cancels"`
		Reads        int64                   `json:"reads"`
		Retries      int64                   `json:"retries"`
		Errors       int64                   `json:"errors"`
		ErrorSamples []string                `json:"error_samples,omitempty"`
		StatusCodes  map[int]int64           `json:"status_codes"`
		Latency      map[string]LatencyStats `json:"latency"`
		Stock        int64                   `json:"stock"`
		Sold         int64                   `json:"sold"`
		Audit        auditJSON               `json:"audit"`
	}{
		r.RunID, r.Scenario, r.Targets, r.Clients, r.Started, r.Elapsed.Seconds(), r.Ops, r.OpsPerSec,
		r.Holds, r.HoldsPerSec, r.SoldOut, r.Confirms, r.Cancels, r.Reads, r.Retries, r.Errors,
		r.ErrorSamples, r.StatusCodes, r.Latency, r.Stock, r.Sold, auditJSON(r.Audit),
	})
}

type auditJSON Audit

func (a auditJSON) MarshalJSON() ([]byte, error) {
	var db any
	if a.Database != nil {
		db = struct {
			Holds    int64            `json:"holds"`
			ByStatus map[string]int64 `json:"by_status"`
			Missing  int64            `json:"missing"`
		}{a.Database.Holds, a.Database.ByStatus, a.Database.Missing}
	}
	return json.Marshal(struct {
		OK           bool     `json:"ok"`
		Skipped      string   `json:"skipped,omitempty"`
		Resources    int      `json:"resources"`
		Buckets      int      `json:"buckets"`
		Acknowledged int64    `json:"acknowledged"`
		Cancelled    int64    `json:"cancelled"`
		Uncertain    int64    `json:"uncertain"`
		Unknown      int64    `json:"unknown"`
		Problems     []string `json:"problems,omitempty"`
		ProblemCount int      `json:"problem_count"`
		Database     any      `json:"database,omitempty"`
	}{a.OK, a.Skipped, a.Resources, a.Buckets, a.Acknowledged, a.Cancelled, a.Uncertain, a.Unknown,
		a.Problems, a.ProblemCount, db})
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// AuditOK reports whether the run's audit found what clients were told.
func (r *Report) AuditOK() bool { return r.Audit.OK }

// WriteJSONFile writes the report as JSON to path.
func (r *Report) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteText writes the report for humans.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: %s, %d clients against %s\n", r.RunID, r.Scenario, r.Clients, strings.Join(r.Targets, ","))
	fmt.Fprintf(&b, "elapsed %.2fs: %.0f ops/s, %.0f holds/s\n", r.Elapsed.Seconds(), r.OpsPerSec, r.HoldsPerSec)
	fmt.Fprintf(&b, "holds %d, sold out %d, confirms %d, cancels %d, reads %d, retries %d, errors %d\n",
		r.Holds, r.SoldOut, r.Confirms, r.Cancels, r.Reads, r.Retries, r.Errors)
	if r.Stock > 0 {
		fmt.Fprintf(&b, "sold %d of stock %d\n", r.Sold, r.Stock)
	}
	codes := make([]int, 0, len(r.StatusCodes))
	for c := range r.StatusCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	b.WriteString("status:")
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "transport-error"
		}
		fmt.Fprintf(&b, " %s=%d", name, r.StatusCodes[c])
	}
	b.WriteByte('\n')

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\tmean\tp50\tp95\tp99\tmax\t")
	for _, op := range sortedKeys(r.Latency) {
		l := r.Latency[op]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", op, l.Count, ms(l.Mean), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	tw.Flush()
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(&b, "error: %s\n", e)
	}

	a := r.Audit
	switch {
	case a.Skipped != "":
		fmt.Fprintf(&b, "audit SKIPPED: %s\n", a.Skipped)
	case a.OK:
		fmt.Fprintf(&b, "audit OK: %d resources, %d buckets; %d holds acknowledged, %d cancelled, %d uncertain, %d unknown\n",
			a.Resources, a.Buckets, a.Acknowledged, a.Cancelled, a.Uncertain, a.Unknown)
	default:
		fmt.Fprintf(&b, "audit FAILED: %d problems (%d resources, %d buckets; %d holds acknowledged, %d cancelled, %d uncertain, %d unknown)\n",
			a.ProblemCount, a.Resources, a.Buckets, a.Acknowledged, a.Cancelled, a.Uncertain, a.Unknown)
	}
	if d := a.Database; d != nil {
		fmt.Fprintf(&b, "database: %d holds %v, %d acknowledged holds missing\n", d.Holds, d.ByStatus, d.Missing)
	}
	for _, p := range a.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	if n := a.ProblemCount - len(a.Problems); n > 0 {
		fmt.Fprintf(&b, "  ... and %d more\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

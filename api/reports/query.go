package reports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/allot/allot/actors/booking"
)

// GroupBy is how report rows are grouped.
type GroupBy string

// The groupings: by UTC (or local) day, ISO week ("2026-W49"), month ("2026-12"), resource
// id, or resource and bucket ("rid/bucket").
const (
	ByDay      GroupBy = "day"
	ByWeek     GroupBy = "week"
	ByMonth    GroupBy = "month"
	ByResource GroupBy = "resource"
	ByBucket   GroupBy = "bucket"
)

// Query selects and groups a report: days From <= day < To (YYYY-MM-DD), one resource or
// all, days in UTC or in each resource's time zone (Local).
type Query struct {
	From, To   string
	ResourceID string
	GroupBy    GroupBy
	Local      bool
	// Limit bounds TopResources (default 10).
	Limit int
}

func (q Query) filter() Filter {
	return Filter{From: q.From, To: q.To, ResourceID: q.ResourceID, Local: q.Local}
}

// group returns the group a row of resource rid, bucket and day falls in.
func (q Query) group(rid, bucket, day string) string {
	switch q.GroupBy {
	case ByResource:
		return rid
	case ByBucket:
		return rid + "/" + bucket
	case ByWeek:
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return day
		}
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case ByMonth:
		if len(day) >= 7 {
			return day[:7]
		}
	}
	return day
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// BookingsRow is one group of the bookings report. Conversion is confirmed ÷ placed, and the
// rates are cancelled ÷ placed and expired ÷ placed, each over the events of the group (a hold
// placed on one day and confirmed on the next counts on each day for its event).
type BookingsRow struct {
	Group            string  `json:"group"`
	Placed           int64   `json:"placed"`
	Confirmed        int64   `json:"confirmed"`
	Cancelled        int64   `json:"cancelled"`
	Expired          int64   `json:"expired"`
	Refunded         int64   `json:"refunded"`
	UnitsPlaced      int64   `json:"units_placed"`
	UnitsConfirmed   int64   `json:"units_confirmed"`
	Conversion       float64 `json:"conversion"`
	CancellationRate float64 `json:"cancellation_rate"`
	ExpiryRate       float64 `json:"expiry_rate"`
}

func bookingsRow(group string, c Counters) BookingsRow {
	return BookingsRow{Group: group, Placed: c.Placed, Confirmed: c.Confirmed, Cancelled: c.Cancelled, Expired: c.Expired,
		Refunded: c.Refunded, UnitsPlaced: c.UnitsPlaced, UnitsConfirmed: c.UnitsConfirmed,
		Conversion: ratio(c.Confirmed, c.Placed), CancellationRate: ratio(c.Cancelled, c.Placed), ExpiryRate: ratio(c.Expired, c.Placed)}
}

// LeadBin is one class of the lead time distribution.
type LeadBin struct {
	Class     string `json:"class"`
	Confirmed int64  `json:"confirmed"`
}

// BookingsReport is the answer of GET /v1/reports/bookings: rows per group, their total, the
// lead time distribution and the placements per hour of day (0-23, UTC or local).
type BookingsReport struct {
	From      string        `json:"from"`
	To        string        `json:"to"`
	GroupBy   GroupBy       `json:"group_by"`
	TimeZone  string        `json:"time_zone"`
	Rows      []BookingsRow `json:"rows"`
	Total     BookingsRow   `json:"total"`
	LeadTimes []LeadBin     `json:"lead_times"`
	PeakHours [24]int64     `json:"peak_hours"`
}

// RevenueRow is the revenue of one group in one currency, in minor units: gross is the price
// of confirmed holds, refunded what was refunded, net their difference.
type RevenueRow struct {
	Group    string `json:"group"`
	Currency string `json:"currency"`
	Gross    int64  `json:"gross"`
	Refunded int64  `json:"refunded"`
	Net      int64  `json:"net"`
}

// RevenueReport is the answer of GET /v1/reports/revenue; Totals has one row per currency.
type RevenueReport struct {
	From     string       `json:"from"`
	To       string       `json:"to"`
	GroupBy  GroupBy      `json:"group_by"`
	TimeZone string       `json:"time_zone"`
	Rows     []RevenueRow `json:"rows"`
	Totals   []RevenueRow `json:"totals"`
}

// FunnelRow is one group of the funnel: distinct signed-in viewers of availability (per
// resource and UTC day, summed over the group's days), then holds placed, confirmed and
// cancelled.
type FunnelRow struct {
	Group      string  `json:"group"`
	Views      int64   `json:"views"`
	Placed     int64   `json:"placed"`
	Confirmed  int64   `json:"confirmed"`
	Cancelled  int64   `json:"cancelled"`
	ViewToHold float64 `json:"view_to_hold"`
	Conversion float64 `json:"conversion"`
}

// FunnelReport is the answer of GET /v1/reports/funnel.
type FunnelReport struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	GroupBy  GroupBy     `json:"group_by"`
	TimeZone string      `json:"time_zone"`
	Rows     []FunnelRow `json:"rows"`
	Total    FunnelRow   `json:"total"`
}

// TopResource is one line of GET /v1/reports/top-resources.
type TopResource struct {
	ResourceID     string       `json:"resource_id"`
	Name           string       `json:"name"`
	Confirmed      int64        `json:"confirmed"`
	UnitsConfirmed int64        `json:"units_confirmed"`
	Revenue        []RevenueRow `json:"revenue"`
}

// TopResourcesReport lists resources by units confirmed, most first (ties by id).
type TopResourcesReport struct {
	From      string        `json:"from"`
	To        string        `json:"to"`
	TimeZone  string        `json:"time_zone"`
	Resources []TopResource `json:"resources"`
}

// Reports computes reports from a Store. Safe for concurrent use.
type Reports struct{ store Store }

// NewReports returns the reports of store.
func NewReports(store Store) *Reports { return &Reports{store: store} }

func tzName(q Query) string {
	if q.Local {
		return "resource"
	}
	return "UTC"
}

// Bookings computes the bookings report.
func (r *Reports) Bookings(ctx context.Context, q Query) (BookingsReport, error) {
	rows, err := r.store.Rows(ctx, q.filter())
	if err != nil {
		return BookingsReport{}, err
	}
	groups := map[string]*Counters{}
	var order []string
	var total Counters
	for _, row := range rows {
		g := q.group(row.ResourceID, row.Bucket, row.Day)
		if groups[g] == nil {
			groups[g] = &Counters{}
			order = append(order, g)
		}
		groups[g].Add(row.Counters)
		total.Add(row.Counters)
	}
	sort.Strings(order)
	out := BookingsReport{From: q.From, To: q.To, GroupBy: q.GroupBy, TimeZone: tzName(q), Rows: []BookingsRow{},
		Total: bookingsRow("total", total)}
	for _, g := range order {
		out.Rows = append(out.Rows, bookingsRow(g, *groups[g]))
	}
	leads, err := r.store.LeadTimes(ctx, q.filter())
	if err != nil {
		return BookingsReport{}, err
	}
	byClass := map[string]int64{}
	for _, l := range leads {
		byClass[l.Class] += l.Confirmed
	}
	for _, c := range LeadClasses {
		out.LeadTimes = append(out.LeadTimes, LeadBin{Class: c, Confirmed: byClass[c]})
	}
	hours, err := r.store.Hours(ctx, q.filter())
	if err != nil {
		return BookingsReport{}, err
	}
	for _, h := range hours {
		if h.Hour >= 0 && h.Hour < 24 {
			out.PeakHours[h.Hour] += h.Placed
		}
	}
	return out, nil
}

// Revenue computes the revenue report. Rows without a currency (resources without a price)
// carry no revenue and are left out.
func (r *Reports) Revenue(ctx context.Context, q Query) (RevenueReport, error) {
	rows, err := r.store.Rows(ctx, q.filter())
	if err != nil {
		return RevenueReport{}, err
	}
	type gk struct{ group, cur string }
	groups := map[gk]*RevenueRow{}
	totals := map[string]*RevenueRow{}
	for _, row := range rows {
		if row.Currency == "" {
			continue
		}
		k := gk{q.group(row.ResourceID, row.Bucket, row.Day), row.Currency}
		if groups[k] == nil {
			groups[k] = &RevenueRow{Group: k.group, Currency: k.cur}
		}
		if totals[k.cur] == nil {
			totals[k.cur] = &RevenueRow{Group: "total", Currency: k.cur}
		}
		for _, rr := range []*RevenueRow{groups[k], totals[k.cur]} {
			rr.Gross += row.Gross
			rr.Refunded += row.RefundedAmount
			rr.Net = rr.Gross - rr.Refunded
		}
	}
	out := RevenueReport{From: q.From, To: q.To, GroupBy: q.GroupBy, TimeZone: tzName(q), Rows: []RevenueRow{}, Totals: []RevenueRow{}}
	for _, g := range groups {
		out.Rows = append(out.Rows, *g)
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		return a.Group < b.Group || (a.Group == b.Group && a.Currency < b.Currency)
	})
	for _, t := range totals {
		out.Totals = append(out.Totals, *t)
	}
	sort.Slice(out.Totals, func(i, j int) bool { return out.Totals[i].Currency < out.Totals[j].Currency })
	return out, nil
}

// Funnel computes the funnel. Views are counted per resource and UTC day, so it cannot be
// grouped by bucket (booking.CodeInvalid).
func (r *Reports) Funnel(ctx context.Context, q Query) (FunnelReport, error) {
	if q.GroupBy == ByBucket {
		return FunnelReport{}, booking.Errorf(booking.CodeInvalid, "the funnel cannot be grouped by bucket: views are counted per resource")
	}
	rows, err := r.store.Rows(ctx, q.filter())
	if err != nil {
		return FunnelReport{}, err
	}
	views, err := r.store.Views(ctx, q.filter())
	if err != nil {
		return FunnelReport{}, err
	}
	groups := map[string]*FunnelRow{}
	total := FunnelRow{Group: "total"}
	at := func(g string) *FunnelRow {
		if groups[g] == nil {
			groups[g] = &FunnelRow{Group: g}
		}
		return groups[g]
	}
	for _, row := range rows {
		f := at(q.group(row.ResourceID, row.Bucket, row.Day))
		f.Placed += row.Placed
		f.Confirmed += row.Confirmed
		f.Cancelled += row.Cancelled
		total.Placed += row.Placed
		total.Confirmed += row.Confirmed
		total.Cancelled += row.Cancelled
	}
	for _, v := range views {
		at(q.group(v.ResourceID, "", v.Day)).Views += v.Viewers
		total.Views += v.Viewers
	}
	out := FunnelReport{From: q.From, To: q.To, GroupBy: q.GroupBy, TimeZone: tzName(q), Rows: []FunnelRow{}}
	for _, g := range groups {
		g.ViewToHold, g.Conversion = ratio(g.Placed, g.Views), ratio(g.Confirmed, g.Placed)
		out.Rows = append(out.Rows, *g)
	}
	sort.Slice(out.Rows, func(i, j int) bool { return out.Rows[i].Group < out.Rows[j].Group })
	total.ViewToHold, total.Conversion = ratio(total.Placed, total.Views), ratio(total.Confirmed, total.Placed)
	out.Total = total
	return out, nil
}

// TopResources lists the q.Limit resources with the most units confirmed.
func (r *Reports) TopResources(ctx context.Context, q Query) (TopResourcesReport, error) {
	rows, err := r.store.Rows(ctx, q.filter())
	if err != nil {
		return TopResourcesReport{}, err
	}
	meta, err := r.store.Resources(ctx)
	if err != nil {
		return TopResourcesReport{}, err
	}
	byID := map[string]*TopResource{}
	rev := map[string]map[string]*RevenueRow{}
	for _, row := range rows {
		t := byID[row.ResourceID]
		if t == nil {
			t = &TopResource{ResourceID: row.ResourceID, Name: meta[row.ResourceID].Name}
			byID[row.ResourceID] = t
			rev[row.ResourceID] = map[string]*RevenueRow{}
		}
		t.Confirmed += row.Confirmed
		t.UnitsConfirmed += row.UnitsConfirmed
		if row.Currency != "" {
			rr := rev[row.ResourceID][row.Currency]
			if rr == nil {
				rr = &RevenueRow{Group: row.ResourceID, Currency: row.Currency}
				rev[row.ResourceID][row.Currency] = rr
			}
			rr.Gross += row.Gross
			rr.Refunded += row.RefundedAmount
			rr.Net = rr.Gross - rr.Refunded
		}
	}
	out := TopResourcesReport{From: q.From, To: q.To, TimeZone: tzName(q), Resources: []TopResource{}}
	for id, t := range byID {
		t.Revenue = []RevenueRow{}
		for _, rr := range rev[id] {
			t.Revenue = append(t.Revenue, *rr)
		}
		sort.Slice(t.Revenue, func(i, j int) bool { return t.Revenue[i].Currency < t.Revenue[j].Currency })
		out.Resources = append(out.Resources, *t)
	}
	sort.Slice(out.Resources, func(i, j int) bool {
		a, b := out.Resources[i], out.Resources[j]
		return a.UnitsConfirmed > b.UnitsConfirmed || (a.UnitsConfirmed == b.UnitsConfirmed && a.ResourceID < b.ResourceID)
	})
	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	if len(out.Resources) > limit {
		out.Resources = out.Resources[:limit]
	}
	return out, nil
}

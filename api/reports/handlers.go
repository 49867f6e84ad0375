package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/wire"
)

// HandlersConfig configures the report routes.
type HandlersConfig struct {
	// Reports computes the answers. Required.
	Reports *Reports
	// Fail answers an error as problem+json (api.Fail). Required.
	Fail func(c *gin.Context, err error)
	// Now is the clock of the default range (the 30 days up to today). Default time.Now.
	Now func() time.Time
	// MaxDays bounds the range one request may ask for. Default 1096 (three years).
	MaxDays int
}

// Handlers serves the report routes. Create it with NewHandlers.
type Handlers struct{ cfg HandlersConfig }

// NewHandlers checks cfg and fills its defaults.
func NewHandlers(cfg HandlersConfig) (*Handlers, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxDays == 0 {
		cfg.MaxDays = 1096
	}
	if cfg.Reports == nil || cfg.Fail == nil {
		return nil, errors.New("reports: handlers config: Reports and Fail are required")
	}
	if cfg.MaxDays < 0 {
		return nil, errors.New("reports: handlers config: MaxDays must be positive")
	}
	return &Handlers{cfg: cfg}, nil
}

// Routes are the report routes and the list of resources the reports know (the console's
// resource search), all for operators with a second factor (auth.Operator).
func (h *Handlers) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodGet, Path: "/v1/reports/bookings", Policy: auth.Operator, Handler: h.bookings},
		{Method: http.MethodGet, Path: "/v1/reports/revenue", Policy: auth.Operator, Handler: h.revenue},
		{Method: http.MethodGet, Path: "/v1/reports/funnel", Policy: auth.Operator, Handler: h.funnel},
		{Method: http.MethodGet, Path: "/v1/reports/top-resources", Policy: auth.Operator, Handler: h.topResources},
		{Method: http.MethodGet, Path: "/v1/reports/resources", Policy: auth.Operator, Handler: h.resources},
	}
}

var queryParams = map[string]bool{"from": true, "to": true, "resource_id": true, "group_by": true, "tz": true, "limit": true}

// parseQuery reads from and to (YYYY-MM-DD; from inclusive, to exclusive; default the 30 days
// up to and including today, UTC), resource_id, group_by (default day), tz (utc, the
// default, or resource) and limit (top-resources, 1-100, default 10). Anything else, or a bad
// value, is booking.CodeInvalid.
func (h *Handlers) parseQuery(c *gin.Context) (Query, error) {
	vals := c.Request.URL.Query()
	for k, v := range vals {
		if !queryParams[k] {
			return Query{}, booking.Errorf(booking.CodeInvalid, "unknown query parameter %q", k)
		}
		if len(v) > 1 {
			return Query{}, booking.Errorf(booking.CodeInvalid, "query parameter %q is given twice", k)
		}
	}
	today := h.cfg.Now().UTC().Truncate(24 * time.Hour)
	to, from := today.AddDate(0, 0, 1), time.Time{}
	if s := vals.Get("to"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return Query{}, booking.Errorf(booking.CodeInvalid, "to must be a date (YYYY-MM-DD)")
		}
		to = t
	}
	from = to.AddDate(0, 0, -30)
	if s := vals.Get("from"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return Query{}, booking.Errorf(booking.CodeInvalid, "from must be a date (YYYY-MM-DD)")
		}
		from = t
	}
	if !from.Before(to) {
		return Query{}, booking.Errorf(booking.CodeInvalid, "from must be before to")
	}
	if to.Sub(from) > time.Duration(h.cfg.MaxDays)*24*time.Hour {
		return Query{}, booking.Errorf(booking.CodeInvalid, "the range may span at most %d days", h.cfg.MaxDays)
	}
	q := Query{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), GroupBy: ByDay}
	if rid := vals.Get("resource_id"); rid != "" {
		if !booking.ValidID(rid) {
			return Query{}, booking.Errorf(booking.CodeInvalid, "resource_id is not valid")
		}
		q.ResourceID = rid
	}
	switch g := GroupBy(vals.Get("group_by")); g {
	case "":
	case ByDay, ByWeek, ByMonth, ByResource, ByBucket:
		q.GroupBy = g
	default:
		return Query{}, booking.Errorf(booking.CodeInvalid, "group_by must be day, week, month, resource or bucket")
	}
	switch vals.Get("tz") {
	case "", "utc":
	case "resource":
		q.Local = true
	default:
		return Query{}, booking.Errorf(booking.CodeInvalid, "tz must be utc or resource")
	}
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return Query{}, booking.Errorf(booking.CodeInvalid, "limit must be an integer from 1 to 100")
		}
		q.Limit = n
	}
	return q, nil
}

// wantsCSV reports whether the client prefers CSV: Accept names text/csv (with a q above 0)
// and not application/json before it.
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "application/*":
			return false
		}
	}
	return false
}

// answer writes v as JSON, or as CSV (records) with a download file name.
func (h *Handlers) answer(c *gin.Context, name string, q Query, v any, records func() [][]string) {
	c.Header("Vary", "Accept")
	c.Header("Cache-Control", "no-store")
	if wantsCSV(c.Request) {
		body, err := encodeCSV(records())
		if err != nil {
			h.cfg.Fail(c, fmt.Errorf("encode csv: %w", err))
			return
		}
		c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_%s_%s.csv"`, name, q.From, q.To))
		c.Data(http.StatusOK, "text/csv; charset=utf-8", body)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		h.cfg.Fail(c, fmt.Errorf("encode response: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json", append(body, '\n'))
}

// GET /v1/reports/bookings
func (h *Handlers) bookings(c *gin.Context) {
	q, err := h.parseQuery(c)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	rep, err := h.cfg.Reports.Bookings(c.Request.Context(), q)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	h.answer(c, "bookings", q, rep, func() [][]string { return bookingsCSV(rep) })
}

// GET /v1/reports/revenue
func (h *Handlers) revenue(c *gin.Context) {
	q, err := h.parseQuery(c)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	rep, err := h.cfg.Reports.Revenue(c.Request.Context(), q)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	h.answer(c, "revenue", q, rep, func() [][]string { return revenueCSV(rep) })
}

// GET /v1/reports/funnel
func (h *Handlers) funnel(c *gin.Context) {
	q, err := h.parseQuery(c)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	rep, err := h.cfg.Reports.Funnel(c.Request.Context(), q)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	h.answer(c, "funnel", q, rep, func() [][]string { return funnelCSV(rep) })
}

// GET /v1/reports/top-resources
func (h *Handlers) topResources(c *gin.Context) {
	q, err := h.parseQuery(c)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	rep, err := h.cfg.Reports.TopResources(c.Request.Context(), q)
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	h.answer(c, "top-resources", q, rep, func() [][]string { return topCSV(rep) })
}

// ResourceBody is one resource of GET /v1/reports/resources.
type ResourceBody struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	TimeZone string      `json:"time_zone,omitempty"`
	Price    *wire.Money `json:"price,omitempty"`
}

// GET /v1/reports/resources?q=text: the resources with events, by id, whose id or name
// contains q (case-insensitive), at most 200.
func (h *Handlers) resources(c *gin.Context) {
	for k := range c.Request.URL.Query() {
		if k != "q" {
			h.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "unknown query parameter %q", k))
			return
		}
	}
	all, err := h.cfg.Reports.store.Resources(c.Request.Context())
	if err != nil {
		h.cfg.Fail(c, err)
		return
	}
	q := strings.ToLower(c.Query("q"))
	out := []ResourceBody{}
	for _, r := range all {
		if q != "" && !strings.Contains(strings.ToLower(r.ID), q) && !strings.Contains(strings.ToLower(r.Name), q) {
			continue
		}
		b := ResourceBody{ID: r.ID, Name: r.Name, TimeZone: r.TimeZone}
		if r.Price.Currency != "" {
			p := r.Price
			b.Price = &p
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > 200 {
		out = out[:200]
	}
	h.answer(c, "resources", Query{}, gin.H{"resources": out}, func() [][]string {
		rec := [][]string{{"id", "name", "time_zone"}}
		for _, r := range out {
			rec = append(rec, []string{cell(r.ID), cell(r.Name), cell(r.TimeZone)})
		}
		return rec
	})
}

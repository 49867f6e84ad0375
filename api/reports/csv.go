package reports

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
)

// encodeCSV writes records as RFC 4180 CSV.
func encodeCSV(records [][]string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(records); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// cell guards a text cell against formula injection when the file is opened in a
// spreadsheet: a leading =, +, -, @, tab or carriage return gets a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

func bookingsCSV(r BookingsReport) [][]string {
	out := [][]string{{"group", "placed", "confirmed", "cancelled", "expired", "refunded", "units_placed",
		"units_confirmed", "conversion", "cancellation_rate", "expiry_rate"}}
	for _, row := range append(append([]BookingsRow{}, r.Rows...), r.Total) {
		out = append(out, []string{cell(row.Group), itoa(row.Placed), itoa(row.Confirmed), itoa(row.Cancelled),
			itoa(row.Expired), itoa(row.Refunded), itoa(row.UnitsPlaced), itoa(row.UnitsConfirmed), ftoa(row.Conversion),
			ftoa(row.CancellationRate), ftoa(row.ExpiryRate)})
	}
	return out
}

func revenueCSV(r RevenueReport) [][]string {
	out := [][]string{{"group", "currency", "gross", "refunded", "net"}}
	for _, row := range append(append([]RevenueRow{}, r.Rows...), r.Totals...) {
		out = append(out, []string{cell(row.Group), cell(row.Currency), itoa(row.Gross), itoa(row.Refunded), itoa(row.Net)})
	}
	return out
}

func funnelCSV(r FunnelReport) [][]string {
	out := [][]string{{"group", "views", "placed", "confirmed", "cancelled", "view_to_hold", "conversion"}}
	for _, row := range append(append([]FunnelRow{}, r.Rows...), r.Total) {
		out = append(out, []string{cell(row.Group), itoa(row.Views), itoa(row.Placed), itoa(row.Confirmed),
			itoa(row.Cancelled), ftoa(row.ViewToHold), ftoa(row.Conversion)})
	}
	return out
}

// topCSV has one line per resource and currency (one line with empty amounts for a resource
// without revenue).
func topCSV(r TopResourcesReport) [][]string {
	out := [][]string{{"resource_id", "name", "confirmed", "units_confirmed", "currency", "gross", "refunded", "net"}}
	for _, t := range r.Resources {
		head := []string{cell(t.ResourceID), cell(t.Name), itoa(t.Confirmed), itoa(t.UnitsConfirmed)}
		if len(t.Revenue) == 0 {
			out = append(out, append(head, "", "", "", ""))
		}
		for _, rv := range t.Revenue {
			out = append(out, append(append([]string{}, head...), cell(rv.Currency), itoa(rv.Gross), itoa(rv.Refunded), itoa(rv.Net)))
		}
	}
	return out
}

package notify

import (
	"strconv"
	"strings"
	"time"
)

// Languages the templates are written in; DefaultLanguage is used for any other.
const DefaultLanguage = "en"

// Languages returns the supported languages, a fresh slice.
func Languages() []string { return []string{"en", "de"} }

// language maps a locale (BCP 47: "de", "de-AT", "en_GB") to a supported language.
func language(locale string) string {
	l := strings.ToLower(locale)
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	for _, s := range Languages() {
		if s == l {
			return s
		}
	}
	return DefaultLanguage
}

var (
	deWeekdays = [...]string{"So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa."}
	deMonths   = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
		"Oktober", "November", "Dezember"}
)

// formatDate writes a day in lang: "Thu, Dec 24, 2026" or "Do., 24. Dezember 2026".
func formatDate(t time.Time, lang string) string {
	if lang == "de" {
		return deWeekdays[t.Weekday()] + ", " + strconv.Itoa(t.Day()) + ". " + deMonths[t.Month()-1] + " " +
			strconv.Itoa(t.Year())
	}
	return t.Format("Mon, Jan 2, 2006")
}

// formatDateTime writes a time in lang, in the zone t carries: "Thu, Dec 24, 2026, 3:04 PM
// CET" or "Do., 24. Dezember 2026, 15:04 CET".
func formatDateTime(t time.Time, lang string) string {
	if lang == "de" {
		return formatDate(t, lang) + ", " + t.Format("15:04 MST")
	}
	return formatDate(t, lang) + ", " + t.Format("3:04 PM MST")
}

// formatSpan writes a span in lang. All-day spans give the first day and the day after the
// last night (check-in and check-out); timed spans give start and end.
func formatSpan(s Span, lang string) string {
	if s.Start.IsZero() {
		return ""
	}
	if s.AllDay {
		return formatDate(s.Start, lang) + " – " + formatDate(s.End, lang)
	}
	end := s.End.Format("15:04")
	if lang != "de" {
		end = s.End.Format("3:04 PM")
	}
	if s.End.YearDay() != s.Start.YearDay() || s.End.Year() != s.Start.Year() {
		end = formatDateTime(s.End, lang)
	}
	return formatDateTime(s.Start, lang) + " – " + end
}

// currency symbols written before (en) or after (de) the amount; others use the ISO code.
var symbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "JPY": "¥"}

// zeroDecimal currencies have no minor unit (ISO 4217 exponent 0).
var zeroDecimal = map[string]bool{"JPY": true, "KRW": true}

// formatMoney writes an amount in minor units per lang: "€1,234.50" or "1.234,50 €".
func formatMoney(amount int64, currency, lang string) string {
	cur := strings.ToUpper(currency)
	neg := amount < 0
	if neg {
		amount = -amount
	}
	group, dec := ",", "."
	if lang == "de" {
		group, dec = ".", ","
	}
	var whole, frac string
	if zeroDecimal[cur] {
		whole = strconv.FormatInt(amount, 10)
	} else {
		whole = strconv.FormatInt(amount/100, 10)
		frac = dec + leftPad(strconv.FormatInt(amount%100, 10), 2)
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	num := b.String() + frac
	if neg {
		num = "-" + num
	}
	sym, ok := symbols[cur]
	if !ok {
		sym = cur
	}
	if lang == "de" {
		return num + "\u00a0" + sym
	}
	if len(sym) > 1 && sym == strings.ToUpper(sym) && !strings.ContainsAny(sym, "€$£¥") {
		return sym + "\u00a0" + num
	}
	return sym + num
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

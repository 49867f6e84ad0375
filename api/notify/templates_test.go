package notify

import (
	"strings"
	"testing"
	"time"
)

func TestTemplatesComplete(t *testing.T) {
	tpl, err := ParseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	v := View{Resource: "Sauna <b>", When: "w", Quantity: 2, Price: "p", HoldID: "h", ExpiresAt: "x"}
	for _, k := range Kinds() {
		for _, lang := range Languages() {
			r, err := tpl.Render(k, lang, v)
			if err != nil {
				t.Fatalf("%s/%s: %v", k, lang, err)
			}
			if r.Subject == "" || r.Short == "" || r.Text == "" || !strings.Contains(r.HTML, "Sauna &lt;b&gt;") {
				t.Fatalf("%s/%s: %+v", k, lang, r)
			}
		}
	}
	en, _ := tpl.Render(KindConfirmation, "en-US", v)
	de, _ := tpl.Render(KindConfirmation, "de_AT", v)
	fr, _ := tpl.Render(KindConfirmation, "fr", v)
	if !strings.HasPrefix(en.Subject, "Booking confirmed") || !strings.HasPrefix(de.Subject, "Buchung bestätigt") || fr.Subject != en.Subject {
		t.Fatalf("languages: %q %q %q", en.Subject, de.Subject, fr.Subject)
	}
}

func TestLocaleFormats(t *testing.T) {
	for _, c := range []struct {
		amount         int64
		cur, lang, out string
	}{
		{123450, "EUR", "en", "€1,234.50"},
		{123450, "EUR", "de", "1.234,50\u00a0€"},
		{5, "USD", "en", "$0.05"},
		{1200, "JPY", "de", "1.200\u00a0¥"},
		{990, "CHF", "en", "CHF\u00a09.90"},
		{-250, "SEK", "en", "SEK\u00a0-2.50"},
	} {
		if got := formatMoney(c.amount, c.cur, c.lang); got != c.out {
			t.Errorf("formatMoney(%d, %s, %s) = %q, want %q", c.amount, c.cur, c.lang, got, c.out)
		}
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 12, 24, 15, 30, 0, 0, berlin)
	if got := formatDateTime(at, "de"); got != "Do., 24. Dezember 2026, 15:30 CET" {
		t.Errorf("de: %q", got)
	}
	if got := formatDateTime(at, "en"); got != "Thu, Dec 24, 2026, 3:30 PM CET" {
		t.Errorf("en: %q", got)
	}
	sp := Span{Start: at, End: at.Add(time.Hour)}
	if got := formatSpan(sp, "de"); got != "Do., 24. Dezember 2026, 15:30 CET – 16:30" {
		t.Errorf("span: %q", got)
	}
}

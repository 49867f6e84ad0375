package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// View is what a template sees: everything already formatted in the reader's language and
// zone, so that templates hold wording only.
type View struct {
	Resource  string // the resource's name
	When      string // the span, formatted
	Quantity  int64
	Price     string // the total, formatted; "" when the resource has no price
	HoldID    string
	ExpiresAt string // formatted; for the expiry warning and offers
}

// messageText is one kind in one language. Subject and Short are text templates (Short is
// the push and SMS body); Text and HTML are the e-mail's two alternatives.
type messageText struct {
	Subject, Short, Text, HTML string
}

// messages is the one place where each message kind is worded, per language. Every kind has
// every language in Languages (TestTemplatesComplete).
var messages = map[Kind]map[string]messageText{
	KindConfirmation: {
		"en": {
			Subject: `Booking confirmed: {{.Resource}}`,
			Short:   `Your booking of {{.Resource}} on {{.When}} is confirmed.`,
			Text: `Your booking is confirmed.

{{.Resource}}
{{.When}}
Quantity: {{.Quantity}}{{if .Price}}
Total: {{.Price}}{{end}}
Booking reference: {{.HoldID}}

The attached invitation adds it to your calendar.`,
			HTML: `<p>Your booking is confirmed.</p><p><strong>{{.Resource}}</strong><br>{{.When}}<br>Quantity: {{.Quantity}}{{if .Price}}<br>Total: {{.Price}}{{end}}<br>Booking reference: {{.HoldID}}</p><p>The attached invitation adds it to your calendar.</p>`,
		},
		"de": {
			Subject: `Buchung bestätigt: {{.Resource}}`,
			Short:   `Ihre Buchung von {{.Resource}} am {{.When}} ist bestätigt.`,
			Text: `Ihre Buchung ist bestätigt.

{{.Resource}}
{{.When}}
Anzahl: {{.Quantity}}{{if .Price}}
Gesamt: {{.Price}}{{end}}
Buchungsnummer: {{.HoldID}}

Mit der angehängten Einladung tragen Sie den Termin in Ihren Kalender ein.`,
			HTML: `<p>Ihre Buchung ist bestätigt.</p><p><strong>{{.Resource}}</strong><br>{{.When}}<br>Anzahl: {{.Quantity}}{{if .Price}}<br>Gesamt: {{.Price}}{{end}}<br>Buchungsnummer: {{.HoldID}}</p><p>Mit der angehängten Einladung tragen Sie den Termin in Ihren Kalender ein.</p>`,
		},
	},
	KindCancellation: {
		"en": {
			Subject: `Booking cancelled: {{.Resource}}`,
			Short:   `Your booking of {{.Resource}} on {{.When}} was cancelled.`,
			Text: `Your booking of {{.Resource}} on {{.When}} was cancelled.
Booking reference: {{.HoldID}}`,
			HTML: `<p>Your booking of <strong>{{.Resource}}</strong> on {{.When}} was cancelled.</p><p>Booking reference: {{.HoldID}}</p>`,
		},
		"de": {
			Subject: `Buchung storniert: {{.Resource}}`,
			Short:   `Ihre Buchung von {{.Resource}} am {{.When}} wurde storniert.`,
			Text: `Ihre Buchung von {{.Resource}} am {{.When}} wurde storniert.
Buchungsnummer: {{.HoldID}}`,
			HTML: `<p>Ihre Buchung von <strong>{{.Resource}}</strong> am {{.When}} wurde storniert.</p><p>Buchungsnummer: {{.HoldID}}</p>`,
		},
	},
	KindExpiring: {
		"en": {
			Subject: `Complete your booking: {{.Resource}}`,
			Short:   `Your reservation of {{.Resource}} runs out at {{.ExpiresAt}}. Complete your booking now.`,
			Text: `Your reservation of {{.Resource}} ({{.When}}) runs out at {{.ExpiresAt}}.
Complete your booking before then to keep it.`,
			HTML: `<p>Your reservation of <strong>{{.Resource}}</strong> ({{.When}}) runs out at {{.ExpiresAt}}.</p><p>Complete your booking before then to keep it.</p>`,
		},
		"de": {
			Subject: `Schließen Sie Ihre Buchung ab: {{.Resource}}`,
			Short:   `Ihre Reservierung von {{.Resource}} läuft um {{.ExpiresAt}} ab. Schließen Sie die Buchung jetzt ab.`,
			Text: `Ihre Reservierung von {{.Resource}} ({{.When}}) läuft am {{.ExpiresAt}} ab.
Schließen Sie die Buchung vorher ab, um sie zu behalten.`,
			HTML: `<p>Ihre Reservierung von <strong>{{.Resource}}</strong> ({{.When}}) läuft am {{.ExpiresAt}} ab.</p><p>Schließen Sie die Buchung vorher ab, um sie zu behalten.</p>`,
		},
	},
	KindReminder: {
		"en": {
			Subject: `Reminder: {{.Resource}}, {{.When}}`,
			Short:   `Reminder: {{.Resource}}, {{.When}}.`,
			Text: `A reminder of your booking:

{{.Resource}}
{{.When}}
Booking reference: {{.HoldID}}`,
			HTML: `<p>A reminder of your booking:</p><p><strong>{{.Resource}}</strong><br>{{.When}}<br>Booking reference: {{.HoldID}}</p>`,
		},
		"de": {
			Subject: `Erinnerung: {{.Resource}}, {{.When}}`,
			Short:   `Erinnerung: {{.Resource}}, {{.When}}.`,
			Text: `Eine Erinnerung an Ihre Buchung:

{{.Resource}}
{{.When}}
Buchungsnummer: {{.HoldID}}`,
			HTML: `<p>Eine Erinnerung an Ihre Buchung:</p><p><strong>{{.Resource}}</strong><br>{{.When}}<br>Buchungsnummer: {{.HoldID}}</p>`,
		},
	},
	KindOffer: {
		"en": {
			Subject: `A place is free: {{.Resource}}`,
			Short:   `A place for {{.Resource}} ({{.When}}) is reserved for you until {{.ExpiresAt}}.`,
			Text: `Good news from the waiting list: a place for {{.Resource}} ({{.When}}) is reserved for you until {{.ExpiresAt}}.
Complete your booking before then to keep it.`,
			HTML: `<p>Good news from the waiting list: a place for <strong>{{.Resource}}</strong> ({{.When}}) is reserved for you until {{.ExpiresAt}}.</p><p>Complete your booking before then to keep it.</p>`,
		},
		"de": {
			Subject: `Ein Platz ist frei: {{.Resource}}`,
			Short:   `Ein Platz für {{.Resource}} ({{.When}}) ist bis {{.ExpiresAt}} für Sie reserviert.`,
			Text: `Gute Nachricht von der Warteliste: Ein Platz für {{.Resource}} ({{.When}}) ist bis {{.ExpiresAt}} für Sie reserviert.
Schließen Sie die Buchung vorher ab, um ihn zu behalten.`,
			HTML: `<p>Gute Nachricht von der Warteliste: Ein Platz für <strong>{{.Resource}}</strong> ({{.When}}) ist bis {{.ExpiresAt}} für Sie reserviert.</p><p>Schließen Sie die Buchung vorher ab, um ihn zu behalten.</p>`,
		},
	},
}

// Rendered is one message in one language.
type Rendered struct {
	Subject, Short, Text, HTML string
}

// Templates are the parsed messages. Parse them once with ParseTemplates; safe for
// concurrent use.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// ParseTemplates parses every message; an error is a bug in messages.
func ParseTemplates() (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for kind, langs := range messages {
		for lang, m := range langs {
			key := string(kind) + "/" + lang
			for part, src := range map[string]string{"subject": m.Subject, "short": m.Short, "text": m.Text} {
				tt, err := texttemplate.New(key + "/" + part).Option("missingkey=error").Parse(src)
				if err != nil {
					return nil, fmt.Errorf("notify templates: %w", err)
				}
				t.text[key+"/"+part] = tt
			}
			ht, err := htmltemplate.New(key + "/html").Option("missingkey=error").Parse(m.HTML)
			if err != nil {
				return nil, fmt.Errorf("notify templates: %w", err)
			}
			t.html[key] = ht
		}
	}
	return t, nil
}

// Render writes kind in the language of locale (DefaultLanguage when unsupported).
func (t *Templates) Render(kind Kind, locale string, v View) (Rendered, error) {
	key := string(kind) + "/" + language(locale)
	ht, ok := t.html[key]
	if !ok {
		return Rendered{}, fmt.Errorf("notify: no template for %s", key)
	}
	var r Rendered
	for _, p := range []struct {
		part string
		dst  *string
	}{{"subject", &r.Subject}, {"short", &r.Short}, {"text", &r.Text}} {
		var b bytes.Buffer
		if err := t.text[key+"/"+p.part].Execute(&b, v); err != nil {
			return Rendered{}, fmt.Errorf("render %s: %w", key, err)
		}
		*p.dst = b.String()
	}
	// A subject is one line whatever a resource's name holds.
	r.Subject = strings.Join(strings.Fields(r.Subject), " ")
	var b bytes.Buffer
	if err := ht.Execute(&b, v); err != nil {
		return Rendered{}, fmt.Errorf("render %s: %w", key, err)
	}
	r.HTML = b.String()
	return r, nil
}

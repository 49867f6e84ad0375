package api

import "testing"

func TestIsHotRoute(t *testing.T) {
	for target, want := range map[string]bool{
		"/v1/resources/r-1/holds":           true,
		"/v1/resources/wrk-r/holds":         true,
		"/v1/resources/r/holds/h/confirm":   true,
		"/v1/resources/r/holds/h/cancel":    true,
		"/v1/resources/r/holds/h/extend":    true,
		"/v1/resources//holds":              false,
		"/v1/resources/holds":               false,
		"/v1/resources/r/holds//confirm":    false,
		"/v1/resources/r/holds/h":           false,
		"/v1/resources/r/holds/h/confirm/x": false,
		"/v1/resources/r/holds/h/refund":    false,
		"/v1/resources/a/b/holds":           false,
		"/v1/resources/r/holdsx":            false,
		"/v1/resources/r/waitlist":          false,
		"/v1/resources":                     false,
		"/v2/resources/r/holds":             false,
		"/v1/resources/r/holds/":            false,
		"":                                  false,
	} {
		if got := IsHotRoute(target); got != want {
			t.Errorf("IsHotRoute(%q) = %v, want %v", target, got, want)
		}
	}
}

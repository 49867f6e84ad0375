package notify

import (
	"net/mail"
	"time"
)

// zone loads an IANA zone; "" and unknown names are UTC (a resource's zone was validated
// when it was created, a user's when the preferences were stored).
func zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

func zoneName(name string) string {
	if name == "" {
		return "UTC"
	}
	return name
}

func parseAddr(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

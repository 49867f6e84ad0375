package auth

import (
	"testing"

	"github.com/allot/allot/actors/booking"
)

func TestAuthorizeMatrix(t *testing.T) {
	principals := []struct {
		name string
		p    *Principal
	}{
		{"anonymous", nil},
		{"customer", &Principal{Subject: "u-1", Roles: []Role{RoleCustomer}}},
		{"customer with MFA", &Principal{Subject: "u-1", Roles: []Role{RoleCustomer}, MFA: true}},
		{"operator without MFA", &Principal{Subject: "o-1", Roles: []Role{RoleCustomer, RoleOperator}}},
		{"operator", &Principal{Subject: "o-1", Roles: []Role{RoleCustomer, RoleOperator}, MFA: true}},
		{"admin without MFA", &Principal{Subject: "a-1", Roles: []Role{RoleCustomer, RoleAdmin}}},
		{"admin", &Principal{Subject: "a-1", Roles: []Role{RoleCustomer, RoleAdmin}, MFA: true}},
	}
	// want[policy][principal]: nil allowed, else the reason.
	want := map[Policy][]error{
		Public:   {nil, nil, nil, nil, nil, nil, nil},
		Customer: {ErrNoToken, nil, nil, nil, nil, nil, nil},
		Operator: {ErrNoToken, ErrForbidden, ErrForbidden, ErrMFARequired, nil, ErrMFARequired, nil},
		Admin:    {ErrNoToken, ErrForbidden, ErrForbidden, ErrForbidden, ErrForbidden, ErrMFARequired, nil},
		0:        {ErrForbidden, ErrForbidden, ErrForbidden, ErrForbidden, ErrForbidden, ErrForbidden, ErrForbidden},
	}
	codes := map[error]string{ErrNoToken: booking.CodeUnauthenticated, ErrForbidden: booking.CodeForbidden, ErrMFARequired: booking.CodeMFARequired}
	for policy, row := range want {
		for i, pr := range principals {
			t.Run(policy.String()+"/"+pr.name, func(t *testing.T) {
				err := Authorize(policy, pr.p)
				if row[i] == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				wantRefused(t, err, row[i], codes[row[i]])
			})
		}
	}
}

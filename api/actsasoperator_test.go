package api

import (
	"testing"

	"github.com/allot/allot/api/auth"
)

// TestActsAsOperatorIsAuthorize checks that actsAsOperator, which the hold path asks on every
// request, answers as auth.Authorize(auth.Operator, p) == nil for every kind of principal.
func TestActsAsOperatorIsAuthorize(t *testing.T) {
	roleSets := [][]auth.Role{nil, {auth.RoleCustomer}, {auth.RoleOperator}, {auth.RoleAdmin},
		{auth.RoleCustomer, auth.RoleOperator}, {auth.RoleCustomer, auth.RoleAdmin}, {"other"}}
	if actsAsOperator(nil) {
		t.Fatal("nil principal acts as operator")
	}
	operators := 0
	for _, roles := range roleSets {
		for _, mfa := range []bool{false, true} {
			p := &auth.Principal{Subject: "u-1", Roles: roles, MFA: mfa}
			want := auth.Authorize(auth.Operator, p) == nil
			if got := actsAsOperator(p); got != want {
				t.Errorf("roles %v mfa %v: actsAsOperator %v, Authorize says %v", roles, mfa, got, want)
			}
			if want {
				operators++
			}
		}
	}
	if operators != 4 {
		t.Fatalf("%d principals act as operator, want 4", operators)
	}
}

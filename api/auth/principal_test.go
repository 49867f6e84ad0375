package auth

import (
	"context"
	"slices"
	"testing"
)

func TestClaimsToPrincipal(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Config)
		claims map[string]any
		roles  []Role
		mfa    bool
		scopes []string
	}{
		{"plain customer", nil, map[string]any{}, []Role{RoleCustomer}, false, nil},
		{"roles array", nil, map[string]any{"roles": []string{"operator", "admin"}}, []Role{RoleCustomer, RoleOperator, RoleAdmin}, false, nil},
		{"roles space-separated", nil, map[string]any{"roles": "admin customer"}, []Role{RoleCustomer, RoleAdmin}, false, nil},
		{"unknown roles ignored", nil, map[string]any{"roles": []any{"root", 7, "operator", "operator"}}, []Role{RoleCustomer, RoleOperator}, false, nil},
		{"Keycloak realm roles", func(c *Config) { c.RolesClaim = "realm_access.roles" },
			map[string]any{"realm_access": map[string]any{"roles": []string{"offline_access", "operator"}}, "roles": []string{"admin"}},
			[]Role{RoleCustomer, RoleOperator}, false, nil},
		{"dotted path through a non-object", func(c *Config) { c.RolesClaim = "realm_access.roles" },
			map[string]any{"realm_access": "operator"}, []Role{RoleCustomer}, false, nil},
		{"Auth0 namespaced claim", func(c *Config) { c.RolesClaim = "https://allot.dev/roles" },
			map[string]any{"https://allot.dev/roles": []string{"admin"}}, []Role{RoleCustomer, RoleAdmin}, false, nil},
		{"amr otp", nil, map[string]any{"amr": []string{"pwd", "otp"}}, []Role{RoleCustomer}, true, nil},
		{"amr hwk", nil, map[string]any{"amr": []string{"hwk"}}, []Role{RoleCustomer}, true, nil},
		{"amr pwd only", nil, map[string]any{"amr": []string{"pwd"}}, []Role{RoleCustomer}, false, nil},
		{"amr pwd as one string", nil, map[string]any{"amr": "pwd"}, []Role{RoleCustomer}, false, nil},
		{"acr configured", func(c *Config) { c.MFAACR = "gold" }, map[string]any{"acr": "gold"}, []Role{RoleCustomer}, true, nil},
		{"acr other level", func(c *Config) { c.MFAACR = "gold" }, map[string]any{"acr": "silver"}, []Role{RoleCustomer}, false, nil},
		{"acr not configured", nil, map[string]any{"acr": "gold"}, []Role{RoleCustomer}, false, nil},
		{"Firebase second factor", func(c *Config) { c.MFAClaim = "firebase.sign_in_second_factor" },
			map[string]any{"firebase": map[string]any{"sign_in_provider": "password", "sign_in_second_factor": "phone"}}, []Role{RoleCustomer}, true, nil},
		{"Firebase without second factor", func(c *Config) { c.MFAClaim = "firebase.sign_in_second_factor" },
			map[string]any{"firebase": map[string]any{"sign_in_provider": "password"}}, []Role{RoleCustomer}, false, nil},
		{"scope", nil, map[string]any{"scope": "openid pii:read"}, []Role{RoleCustomer}, false, []string{"openid", ScopePIIRead}},
		{"scp", nil, map[string]any{"scp": []string{ScopePIIRead}}, []Role{RoleCustomer}, false, []string{ScopePIIRead}},
	}
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, ti, tt.edit)
			c := ti.claims("u-1")
			for k, x := range tt.claims {
				c[k] = x
			}
			p, err := v.Verify(context.Background(), ti.sign(ti.key("k1"), c))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Roles, tt.roles) || p.MFA != tt.mfa || !slices.Equal(p.Scopes, tt.scopes) {
				t.Fatalf("roles %v mfa %v scopes %v; want %v %v %v", p.Roles, p.MFA, p.Scopes, tt.roles, tt.mfa, tt.scopes)
			}
			for _, r := range tt.roles {
				if !p.HasRole(r) {
					t.Errorf("HasRole(%s) = false", r)
				}
			}
		})
	}
}

func TestUserClaimAndContacts(t *testing.T) {
	clock := newTestClock()
	ti := newTestIssuer(t, clock)
	v := newTestVerifier(t, ti, func(c *Config) { c.UserClaim = "ext.uid" })
	c := ti.claims("ignored")
	c["ext"] = map[string]any{"uid": "u-42"}
	c["email"], c["phone_number"] = "guest@example.com", "+41000000000"
	p, err := v.Verify(context.Background(), ti.sign(ti.key("k1"), c))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "u-42" || p.Email != "guest@example.com" || p.Phone != "+41000000000" {
		t.Fatalf("%+v", p)
	}
	var nobody *Principal
	if nobody.HasRole(RoleCustomer) || nobody.HasScope(ScopePIIRead) {
		t.Fatal("a nil principal has a role or scope")
	}
}

package auth

// Policy is what a route requires of its caller. The zero value is no policy: a route must
// be given one explicitly (see RoutePolicies).
type Policy uint8

const (
	// Public routes answer anyone: browsing resources and availability, health probes.
	Public Policy = iota + 1
	// Customer routes need any valid token: a signed-in user acting on their own holds.
	Customer
	// Operator routes need the operator or admin role and a token proving a second factor.
	Operator
	// Admin routes need the admin role and a token proving a second factor.
	Admin
)

func (p Policy) String() string {
	switch p {
	case Public:
		return "public"
	case Customer:
		return "customer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return "none"
}

// Authorize reports whether principal (nil for an anonymous caller) may use a route with
// policy p: nil, or a refusal matching ErrNoToken (401), ErrForbidden or ErrMFARequired (403).
// The role is checked before the second factor, so a customer learns that the route is not
// for them rather than that a second factor would help. A route without a policy is refused
// to everyone.
func Authorize(p Policy, principal *Principal) error {
	switch p {
	case Public:
		return nil
	case Customer, Operator, Admin:
	default:
		return refuse(ErrForbidden)
	}
	if principal == nil {
		return refuse(ErrNoToken)
	}
	switch {
	case p == Operator && !principal.HasRole(RoleOperator) && !principal.HasRole(RoleAdmin),
		p == Admin && !principal.HasRole(RoleAdmin):
		return refuse(ErrForbidden)
	case p != Customer && !principal.MFA:
		return refuse(ErrMFARequired)
	}
	return nil
}

package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/allot/allot/api/auth"
)

// runToken prints a token that a node in dev auth mode with the same data dir (or key file),
// issuer and audience accepts. It creates the dev signing key if the node has not yet.
func runToken(args []string, stdout, stderr io.Writer) error {
	cfg := auth.DefaultConfig()
	spec := auth.TokenSpec{TTL: time.Hour}
	dataDir := DefaultNodeConfig().DataDir
	var keyFile string
	fs := newFlagSet("token", "Prints a bearer token signed by the dev issuer of a data dir (or a shared key file), for\n"+
		"`make run`, tests and load tests: curl -H \"Authorization: Bearer $(allot token --sub u-1)\" ...\n"+
		"Anyone who can read the key can mint any token: dev mode is never for real users.", stderr)
	fs.StringVar(&spec.Subject, "sub", "", "the user the token speaks for (required)")
	roles := fs.String("role", "", "customer, operator or admin, comma-separated for several (every token is a customer)")
	fs.BoolVar(&spec.MFA, "mfa", false, "the token proves a second factor (amr otp), as operators and admins need")
	fs.StringVar(&spec.Email, "email", "", "the user's e-mail address claim")
	fs.StringVar(&spec.Phone, "phone", "", "the user's phone number claim")
	scopes := fs.String("scope", "", "OAuth scopes, space- or comma-separated (e.g. "+auth.ScopePIIRead+")")
	fs.DurationVar(&spec.TTL, "ttl", spec.TTL, "how long the token is valid (at most 720h)")
	fs.StringVar(&dataDir, "data-dir", dataDir, "the node's data dir, holding the dev signing key")
	fs.StringVar(&keyFile, "key-file", "", "a shared dev signing key file (a cluster's); wins over --data-dir")
	fs.StringVar(&cfg.Issuer, "oidc-issuer", cfg.Issuer, "the issuer the node expects")
	fs.StringVar(&cfg.Audience, "oidc-audience", cfg.Audience, "the audience the node expects")
	fs.StringVar(&cfg.RolesClaim, "oidc-roles-claim", cfg.RolesClaim, "the claim (dotted path) the node reads roles from")
	fs.StringVar(&cfg.UserClaim, "oidc-user-claim", cfg.UserClaim, "the claim (dotted path) the node reads the user from")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if spec.Subject == "" {
		return errors.New("--sub is required")
	}
	for _, r := range splitList(*roles) {
		switch role := auth.Role(r); role {
		case auth.RoleCustomer, auth.RoleOperator, auth.RoleAdmin:
			spec.Roles = append(spec.Roles, role)
		default:
			return fmt.Errorf("--role: unknown role %q (customer, operator or admin)", r)
		}
	}
	spec.Scopes = splitList(*scopes)
	if keyFile == "" {
		if dataDir == "" {
			return errors.New("--data-dir or --key-file is required")
		}
		keyFile = auth.DevKeyFile(dataDir)
	}
	issuer, err := auth.NewDevIssuer(cfg, keyFile)
	if err != nil {
		return err
	}
	token, err := issuer.Mint(spec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// splitList splits a comma- or space-separated list, dropping empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// Package auth is Allot's identity layer. Allot is an OAuth 2.0 resource server, not an
// identity provider: mobile apps sign their users in at an OpenID Connect provider (Auth0,
// Keycloak, Firebase Auth, ...) and send its access token as a bearer token; Allot verifies it
// on every request and never stores a password. Second factors are the provider's job; Allot
// reads their proof from the token (Principal.MFA) and requires it for operators and admins.
//
// The pieces, one per file:
//   - Config: the issuer, audience, claim names, skew and cache size (DefaultConfig, validate).
//   - Verifier: checks a token's signature against the issuer's key set (discovered with
//     github.com/coreos/go-oidc/v3) and its iss, aud, exp and nbf claims, and caches verified
//     tokens until they expire.
//   - Principal: who the verified token speaks for: subject, roles, second factor, scopes.
//   - Policy and Authorize: what a route requires; RoutePolicies: one table for all routes.
//   - DevIssuer: a local issuer for `make run`, tests and `allot token`, with its signing key
//     under the data dir (or a shared key file for a cluster).
//
// Errors that refuse a request are *booking.Error values with CodeUnauthenticated,
// CodeForbidden or CodeMFARequired (mapped to 401 and 403 in package api); they also match one
// of the Err* reasons of this package with errors.Is.
package auth

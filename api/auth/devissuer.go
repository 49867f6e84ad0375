package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths a DevIssuer serves, under its issuer URL's path.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
)

// DevKeyFileName is the dev signing key's file under a node's data dir.
const DevKeyFileName = "dev-signing-key.pem"

// MaxDevTokenTTL bounds the lifetime of a minted token.
const MaxDevTokenTTL = 30 * 24 * time.Hour

// DevKeyFile returns the path of the dev signing key under dataDir.
func DevKeyFile(dataDir string) string { return filepath.Join(dataDir, DevKeyFileName) }

// DevIssuer is a minimal OpenID Connect issuer for development, tests and load tests: it signs
// tokens with an ES256 key kept in a file (created once with mode 0600, then reused, so tokens
// survive restarts), and serves its discovery document and key set so that any OIDC verifier
// accepts them. Whoever can read the key file can mint an admin token: a DevIssuer is never
// for real users. Safe for concurrent use.
type DevIssuer struct {
	cfg    Config
	key    *ecdsa.PrivateKey
	public jose.JSONWebKey
	signer jose.Signer
}

// TokenSpec is what a minted token says.
type TokenSpec struct {
	Subject string
	Roles   []Role
	MFA     bool // the token's amr then says "pwd" and "otp"
	Email   string
	Phone   string
	Scopes  []string
	TTL     time.Duration // 0 < TTL <= MaxDevTokenTTL
}

// NewDevIssuer loads the signing key from keyFile, creating it if it does not exist. cfg's
// Issuer, Audience, RolesClaim, UserClaim and Now shape the tokens. Several processes may
// start on the same new file at once (a cluster's shared key file): exactly one key is kept.
func NewDevIssuer(cfg Config, keyFile string) (*DevIssuer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("auth: dev signing key: %w", err)
	}
	public := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("auth: dev signing key: %w", err)
	}
	public.KeyID = base64.RawURLEncoding.EncodeToString(thumb) // RFC 7638: stable across restarts
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), public.KeyID))
	if err != nil {
		return nil, fmt.Errorf("auth: dev signer: %w", err)
	}
	return &DevIssuer{cfg: cfg, key: key, public: public, signer: signer}, nil
}

// KeyID returns the key id of the signing key.
func (d *DevIssuer) KeyID() string { return d.public.KeyID }

// PublicKeys returns the issuer's key set.
func (d *DevIssuer) PublicKeys() []jose.JSONWebKey { return []jose.JSONWebKey{d.public} }

// Mint returns a signed token for spec, valid from now for spec.TTL.
func (d *DevIssuer) Mint(spec TokenSpec) (string, error) {
	if spec.Subject == "" {
		return "", errors.New("auth: mint: a subject is required")
	}
	if spec.TTL <= 0 || spec.TTL > MaxDevTokenTTL {
		return "", fmt.Errorf("auth: mint: TTL %v is not within (0, %v]", spec.TTL, MaxDevTokenTTL)
	}
	now := d.cfg.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	claims := map[string]any{
		"iss": d.cfg.Issuer,
		"aud": d.cfg.Audience,
		"sub": spec.Subject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(spec.TTL).Unix(),
		"jti": hex.EncodeToString(jti),
		"amr": []string{"pwd"},
	}
	setPath(claims, d.cfg.UserClaim, spec.Subject)
	if spec.MFA {
		claims["amr"] = []string{"pwd", "otp"}
	}
	if len(spec.Roles) > 0 {
		setPath(claims, d.cfg.RolesClaim, spec.Roles)
	}
	if len(spec.Scopes) > 0 {
		claims["scope"] = strings.Join(spec.Scopes, " ")
	}
	if spec.Email != "" {
		claims["email"] = spec.Email
	}
	if spec.Phone != "" {
		claims["phone_number"] = spec.Phone
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	jws, err := d.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return jws.CompactSerialize()
}

// Handler serves the discovery document and the key set at DiscoveryPath and JWKSPath under
// the issuer URL's path; everything else is 404.
func (d *DevIssuer) Handler() http.Handler {
	base := ""
	if u, err := url.Parse(d.cfg.Issuer); err == nil {
		base = strings.TrimSuffix(u.Path, "/")
	}
	issuer := strings.TrimSuffix(d.cfg.Issuer, "/")
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                d.cfg.Issuer,
		"jwks_uri":                              issuer + JWKSPath,
		"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "amr", "email", "phone_number", d.cfg.RolesClaim},
	})
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: d.PublicKeys()})
	docs := map[string][]byte{base + DiscoveryPath: discovery, base + JWKSPath: jwks}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := docs[r.URL.Path]
		switch {
		case !ok:
			http.NotFound(w, r)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			_, _ = w.Write(body)
		}
	})
}

// setPath sets a dotted claim path, creating the objects on the way.
func setPath(claims map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	m := claims
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

// loadOrCreateKey reads a PEM PKCS #8 P-256 key, or creates one. A new key is written to a
// temporary file and linked into place, so a reader never sees half a key and two processes
// racing to create it end up with the same one.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".dev-key-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return loadKey(path) // ours, or the one another process linked first
}

// loadKey reads the key at path, refusing a file that others may read.
func loadKey(path string) (*ecdsa.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %#o lets others read the key; chmod 600 it", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM PRIVATE KEY", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not a P-256 ECDSA key", path)
	}
	return key, nil
}

package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Limits of key-set documents.
const (
	maxDocSize     = 1 << 20 // discovery document or key set
	maxKeys        = 100
	maxKidLen      = 256
	minRSABits     = 2048
	maxRSABits     = 8192
	keysMaxAge     = 24 * time.Hour // refresh known keys this often (revocations)
	defaultTimeout = 10 * time.Second
)

// ErrJWKS is wrapped by errors about a key set or discovery document.
var ErrJWKS = errors.New("invalid key set")

// jwk is one JSON Web Key (RFC 7517/7518), the fields this package uses.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// publicKey is a parsed verification key: *rsa.PublicKey for RS256 or
// *ecdsa.PublicKey (P-256) for ES256.
type publicKey struct {
	alg string // the only algorithm the key verifies
	key crypto.PublicKey
}

// ParseJWKS parses a JSON Web Key Set, keeping the signing keys this
// package can verify with: RSA (2048–8192 bits, RS256) and EC P-256
// (ES256). Keys with "use" other than "sig", another type or curve, or
// an "alg" that does not fit the key are skipped; keys without a kid,
// duplicate kids, malformed key material and a set with no usable key are
// errors wrapping ErrJWKS. The result maps kid to key.
func parseJWKS(data []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKS, err)
	}
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("%w: %d keys (at most %d)", ErrJWKS, len(set.Keys), maxKeys)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrJWKS, i, err)
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var pk publicKey
		var err error
		switch k.Kty {
		case "RSA":
			if k.Alg != "" && k.Alg != "RS256" {
				continue
			}
			pk.alg = "RS256"
			pk.key, err = parseRSA(k)
		case "EC":
			if k.Crv != "P-256" || k.Alg != "" && k.Alg != "ES256" {
				continue
			}
			pk.alg = "ES256"
			pk.key, err = parseEC(k)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrJWKS, i, err)
		}
		if k.Kid == "" || len(k.Kid) > maxKidLen {
			return nil, fmt.Errorf("%w: key %d: kid missing or longer than %d bytes", ErrJWKS, i, maxKidLen)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("%w: key %d: duplicate kid %q", ErrJWKS, i, k.Kid)
		}
		keys[k.Kid] = pk
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no RS256 or ES256 signing key", ErrJWKS)
	}
	return keys, nil
}

// b64 decodes unpadded base64url (RFC 7515 §2), bounding the input.
func b64(field, s string, maxBytes int) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s missing", field)
	}
	if base64.RawURLEncoding.DecodedLen(len(s)) > maxBytes {
		return nil, fmt.Errorf("%s longer than %d bytes", field, maxBytes)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return b, nil
}

func parseRSA(k jwk) (*rsa.PublicKey, error) {
	nb, err := b64("n", k.N, maxRSABits/8)
	if err != nil {
		return nil, err
	}
	eb, err := b64("e", k.E, 4)
	if err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits (want %d to %d)", bits, minRSABits, maxRSABits)
	}
	var e int64
	for _, b := range eb {
		e = e<<8 | int64(b)
	}
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, fmt.Errorf("RSA exponent %d not accepted", e)
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}

func parseEC(k jwk) (*ecdsa.PublicKey, error) {
	x, err := b64("x", k.X, 32)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", k.Y, 32)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("P-256 x and y must be 32 bytes each")
	}
	pt := make([]byte, 0, 65)
	pt = append(append(append(pt, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt) // checks the point is on the curve
	if err != nil {
		return nil, fmt.Errorf("P-256 point: %w", err)
	}
	return pub, nil
}

// keySet is the cached key set of an issuer, refreshed on unknown kids at a
// bounded rate.
type keySet struct {
	url         string
	client      *http.Client
	log         *slog.Logger
	minInterval time.Duration
	now         func() time.Time

	fetchMu sync.Mutex // one fetch at a time

	mu          sync.RWMutex
	keys        map[string]publicKey
	fetchedAt   time.Time // last successful fetch
	attemptedAt time.Time // last fetch attempt
	fetches     int       // attempts, for tests
}

// errUnknownKid reports a kid not in the key set (after any refresh the
// rate limit allowed).
var errUnknownKid = errors.New("unknown signing key id")

// lookup returns the key of kid, refreshing the set when kid is unknown (or
// the set is older than keysMaxAge) and the last attempt is at least
// minInterval ago.
func (s *keySet) lookup(ctx context.Context, kid string) (publicKey, error) {
	if k, ok, fresh := s.cached(kid); ok && fresh {
		return k, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	// Another caller may have refreshed while this one waited.
	k, ok, fresh := s.cached(kid)
	if ok && fresh {
		return k, nil
	}
	s.mu.RLock()
	mayFetch := s.attemptedAt.IsZero() || s.now().Sub(s.attemptedAt) >= s.minInterval
	s.mu.RUnlock()
	if mayFetch {
		if err := s.refresh(ctx); err != nil {
			s.log.Warn("auth: key set refresh failed; keeping the cached keys", slog.String("jwks_url", s.url), slog.Any("error", err))
		}
		k, ok, _ = s.cached(kid)
	}
	if !ok {
		return publicKey{}, fmt.Errorf("%w %q", errUnknownKid, truncate(kid, 64))
	}
	return k, nil
}

// cached returns the cached key of kid and whether the set is young
// enough to trust without a refresh.
func (s *keySet) cached(kid string) (publicKey, bool, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[kid]
	return k, ok, s.now().Sub(s.fetchedAt) < keysMaxAge
}

// refresh fetches the key set; on failure the cached keys stay.
func (s *keySet) refresh(ctx context.Context) error {
	s.mu.Lock()
	s.attemptedAt = s.now()
	s.fetches++
	s.mu.Unlock()
	data, err := fetchDoc(ctx, s.client, s.url)
	if err != nil {
		return err
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = keys, s.now()
	s.mu.Unlock()
	s.log.Info("auth: key set loaded", slog.String("jwks_url", s.url), slog.Int("keys", len(keys)))
	return nil
}

// fetchCount returns the number of fetch attempts (tests).
func (s *keySet) fetchCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fetches
}

// checkURL refuses URLs that are not https, except http on a loopback host
// (test issuers).
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrConfig, what, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%w: %s %q has no host", ErrConfig, what, raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: %s %q must be an https URL", ErrConfig, what, raw)
}

// fetchDoc GETs a JSON document of at most maxDocSize bytes.
func fetchDoc(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %d", u, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	if len(data) > maxDocSize {
		return nil, fmt.Errorf("fetch %s: larger than %d bytes", u, maxDocSize)
	}
	return data, nil
}

// discoverJWKS reads ISSUER/.well-known/openid-configuration and returns
// its jwks_uri, checking that the document's issuer is the configured one
// (OpenID Connect Discovery §4.3).
func discoverJWKS(ctx context.Context, c *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	data, err := fetchDoc(ctx, c, u)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("%w: OIDC discovery %s: %w", ErrJWKS, u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("%w: OIDC discovery %s names issuer %q, not the configured %q (set VZARR_AUTH_JWKS_URL to skip discovery)",
			ErrConfig, u, doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("%w: OIDC discovery %s has no jwks_uri", ErrJWKS, u)
	}
	if err := checkURL("jwks_uri", doc.JWKSURI); err != nil {
		return "", err
	}
	return doc.JWKSURI, nil
}

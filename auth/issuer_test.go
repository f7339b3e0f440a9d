package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Keys are generated once: 2048-bit RSA generation is slow.
var (
	keysOnce           sync.Once
	rsaKey, rsaKey2    *rsa.PrivateKey
	ecKey, attackerKey *ecdsa.PrivateKey
	attackerRSA        *rsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		for _, k := range []**rsa.PrivateKey{&rsaKey, &rsaKey2, &attackerRSA} {
			*k, err = rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
		}
		for _, k := range []**ecdsa.PrivateKey{&ecKey, &attackerKey} {
			*k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
		}
	})
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testIssuer is an in-process OIDC issuer: discovery document and JWKS.
type testIssuer struct {
	srv *httptest.Server

	mu        sync.Mutex
	keys      []map[string]string // published JWKs
	jwksHits  int
	discovery map[string]string // overrides for the discovery document
}

const (
	testAudience = "api://vzarr-test"
	kidRSA       = "rsa-1"
	kidEC        = "ec-1"
	kidRSA2      = "rsa-2"
)

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	b, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]string{
		"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(b[33:]),
	}
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	testKeys(t)
	is := &testIssuer{keys: []map[string]string{
		rsaJWK(kidRSA, &rsaKey.PublicKey),
		ecJWK(kidEC, &ecKey.PublicKey),
		// keys this package must skip
		{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"},
		{"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": "AAAA"},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		doc := map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"}
		for k, v := range is.discovery {
			doc[k] = v
		}
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.jwksHits++
		doc := map[string]any{"keys": is.keys}
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(doc)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *testIssuer) URL() string { return is.srv.URL }

func (is *testIssuer) hits() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.jwksHits
}

func (is *testIssuer) publish(k map[string]string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, k)
}

func (is *testIssuer) unpublish(kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	var keep []map[string]string
	for _, k := range is.keys {
		if k["kid"] != kid {
			keep = append(keep, k)
		}
	}
	is.keys = keep
}

// claims returns valid claims for the issuer at now.
func (is *testIssuer) claims(now time.Time, roles ...string) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":   is.URL(),
		"aud":   testAudience,
		"sub":   "pairwise-sub",
		"oid":   "00000000-0000-0000-0000-00000000cafe",
		"name":  "Ada Lovelace",
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"roles": roles,
	}
	if roles == nil {
		delete(c, "roles")
	}
	return c
}

// sign signs claims with method and key, setting kid (unless empty) and any
// extra header fields.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.Claims, extra map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range extra {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// newTestEntra returns an entra Authenticator against is with a fake clock.
func newTestEntra(t testing.TB, is *testIssuer, clock *fakeClock, mut func(*Config)) *entraAuth {
	t.Helper()
	c := Config{
		Mode:     ModeEntra,
		Issuer:   is.URL(),
		Audience: testAudience,
		Logger:   slog.New(slog.DiscardHandler),
	}
	if mut != nil {
		mut(&c)
	}
	a, err := New(context.Background(), c)
	require.NoError(t, err)
	ea := a.(*entraAuth)
	if clock != nil {
		// The initial fetch ran on the real clock; date it on the fake one.
		ea.now = clock.Now
		ea.keys.mu.Lock()
		ea.keys.attemptedAt, ea.keys.fetchedAt = clock.Now(), clock.Now()
		ea.keys.mu.Unlock()
	}
	return ea
}

// response is what serve observed.
type response struct {
	code      int
	challenge string
	body      map[string]any
}

// check asserts the status code and what every body of that code carries:
// the identity's subject and method on 200, the error type on 401 and 403.
func (r response) check(t *testing.T, code int, subject, method string) {
	t.Helper()
	assert.Equal(t, code, r.code, "%v", r.body)
	switch code {
	case 200:
		assert.Equal(t, subject, r.body["subject"])
		assert.Equal(t, method, r.body["method"])
	case 401:
		assert.Equal(t, "unauthorized", r.body["error_type"])
	case 403:
		assert.Equal(t, "forbidden", r.body["error_type"])
	}
}

// hides asserts that no secret reaches the logs or the body.
func (r response) hides(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		assert.NotContains(t, logs, secret)
		assert.NotContains(t, fmt.Sprint(r.body), secret)
	}
}

// serve runs a request with the Authorization header values through
// Require(a, role) in front of a handler that echoes the identity.
func serve(t testing.TB, a Authenticator, role Role, log *slog.Logger, authz ...string) response {
	t.Helper()
	h := Require(a, role, log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": id.Subject, "name": id.Name, "method": id.Method, "roles": id.Roles})
	}))
	req := httptest.NewRequest(http.MethodPost, "/api/platform/submit", nil)
	for _, v := range authz {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return response{code: rec.Code, challenge: rec.Header().Get("WWW-Authenticate"), body: body}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

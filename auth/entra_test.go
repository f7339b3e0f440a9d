package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

func TestEntraTokens(t *testing.T) {
	is := newTestIssuer(t)
	clock := &fakeClock{t: time.Now()}
	a := newTestEntra(t, is, clock, nil)
	now := clock.Now()
	both := []string{DefaultSubmitRole, DefaultReadRole}

	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})

	with := func(c jwt.MapClaims, kv ...any) jwt.MapClaims {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, c, nil) }

	tests := []struct {
		name     string
		token    string
		role     Role
		wantCode int
		wantSub  string
		wantErr  string // substring of the error body
	}{
		{name: "valid RS256", token: rs(is.claims(now, both...)), role: RoleSubmit, wantCode: 200, wantSub: "00000000-0000-0000-0000-00000000cafe"},
		{name: "valid ES256", token: sign(t, jwt.SigningMethodES256, ecKey, kidEC, is.claims(now, both...), nil), role: RoleRead, wantCode: 200, wantSub: "00000000-0000-0000-0000-00000000cafe"},
		{name: "sub when no oid", token: rs(with(is.claims(now, both...), "oid", nil)), role: RoleRead, wantCode: 200, wantSub: "pairwise-sub"},
		{name: "expired within clock skew", token: rs(with(is.claims(now, both...), "exp", now.Add(-time.Minute).Unix())), role: RoleRead, wantCode: 200, wantSub: "00000000-0000-0000-0000-00000000cafe"},
		{name: "expired", token: rs(with(is.claims(now, both...), "exp", now.Add(-10*time.Minute).Unix())), role: RoleRead, wantCode: 401, wantErr: "expired"},
		{name: "no exp", token: rs(with(is.claims(now, both...), "exp", nil)), role: RoleRead, wantCode: 401, wantErr: "exp"},
		{name: "nbf in future", token: rs(with(is.claims(now, both...), "nbf", now.Add(10*time.Minute).Unix())), role: RoleRead, wantCode: 401, wantErr: "not valid yet"},
		{name: "iat in future", token: rs(with(is.claims(now, both...), "iat", now.Add(10*time.Minute).Unix())), role: RoleRead, wantCode: 401, wantErr: "before issued"},
		{name: "wrong aud", token: rs(with(is.claims(now, both...), "aud", "api://other")), role: RoleRead, wantCode: 401, wantErr: "audience"},
		{name: "no aud", token: rs(with(is.claims(now, both...), "aud", nil)), role: RoleRead, wantCode: 401, wantErr: "aud"},
		{name: "wrong iss", token: rs(with(is.claims(now, both...), "iss", "https://login.microsoftonline.com/evil/v2.0")), role: RoleRead, wantCode: 401, wantErr: "issuer"},
		{name: "iss with trailing slash", token: rs(with(is.claims(now, both...), "iss", is.URL()+"/")), role: RoleRead, wantCode: 401, wantErr: "issuer"},
		{name: "no oid or sub", token: rs(with(is.claims(now, both...), "oid", nil, "sub", nil)), role: RoleRead, wantCode: 401, wantErr: "no oid or sub"},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "signing method none is invalid"},
		{name: "HS256 with the public key PEM as secret", token: sign(t, jwt.SigningMethodHS256, pubPEM, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "signing method HS256 is invalid"},
		{name: "HS256 with the PKCS1 PEM as secret", token: sign(t, jwt.SigningMethodHS256, pkcs1PEM, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "HS256"},
		{name: "HS256 with the public key DER as secret", token: sign(t, jwt.SigningMethodHS256, pubDER, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "HS256"},
		{name: "RS512 not allowed", token: sign(t, jwt.SigningMethodRS512, rsaKey, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "RS512"},
		{name: "PS256 not allowed", token: sign(t, jwt.SigningMethodPS256, rsaKey, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "PS256"},
		{name: "RS256 naming the EC key", token: sign(t, jwt.SigningMethodRS256, rsaKey, kidEC, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "does not fit key"},
		{name: "ES256 naming the RSA key", token: sign(t, jwt.SigningMethodES256, ecKey, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "does not fit key"},
		{name: "signed by another key with a known kid", token: sign(t, jwt.SigningMethodRS256, attackerRSA, kidRSA, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "signature"},
		{name: "attacker key embedded in the jwk header", token: sign(t, jwt.SigningMethodRS256, attackerRSA, kidRSA, is.claims(now, both...),
			map[string]any{"jwk": rsaJWK(kidRSA, &attackerRSA.PublicKey), "jku": "http://127.0.0.1:1/keys"}), role: RoleRead, wantCode: 401, wantErr: "signature"},
		{name: "EC attacker key, known kid", token: sign(t, jwt.SigningMethodES256, attackerKey, kidEC, is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "signature"},
		{name: "no kid", token: sign(t, jwt.SigningMethodRS256, rsaKey, "", is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "no kid"},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodRS256, rsaKey2, "nope", is.claims(now, both...), nil), role: RoleRead, wantCode: 401, wantErr: "unknown signing key id"},
		{name: "crit header", token: sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(now, both...), map[string]any{"crit": []string{"exp"}}), role: RoleRead, wantCode: 401, wantErr: "critical"},
		{name: "roles not a list", token: rs(with(is.claims(now), "roles", 7)), role: RoleRead, wantCode: 401, wantErr: "malformed"},
		{name: "tampered payload", token: tamper(rs(is.claims(now, DefaultReadRole))), role: RoleSubmit, wantCode: 401, wantErr: "signature"},
		{name: "no roles claim", token: rs(is.claims(now)), role: RoleRead, wantCode: 403},
		{name: "unrelated roles only", token: rs(is.claims(now, "Other.Admin", "vzarr.submit")), role: RoleSubmit, wantCode: 403},
		{name: "read-only role on submit", token: rs(is.claims(now, DefaultReadRole)), role: RoleSubmit, wantCode: 403},
		{name: "read-only role on read", token: rs(is.claims(now, DefaultReadRole)), role: RoleRead, wantCode: 200, wantSub: "00000000-0000-0000-0000-00000000cafe"},
		{name: "submit-only role on read", token: rs(is.claims(now, DefaultSubmitRole)), role: RoleRead, wantCode: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs testenv.SyncBuffer
			resp := serve(t, a, tc.role, logs.Logger(), "Bearer "+tc.token)
			resp.check(t, tc.wantCode, tc.wantSub, ModeEntra)
			switch tc.wantCode {
			case 401:
				assert.Equal(t, `Bearer realm="vzarr", error="invalid_token"`, resp.challenge)
				assert.Equal(t, map[string]any{"success": false, "error": resp.body["error"], "error_type": "unauthorized"}, resp.body)
				assert.Contains(t, resp.body["error"], tc.wantErr)
				assert.Contains(t, logs.String(), tc.wantErr)
			case 403:
				assert.Contains(t, resp.challenge, `error="insufficient_scope"`)
				assert.Equal(t, false, resp.body["success"])
			}
			// the token, or any of its three parts, never reaches logs or bodies
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) > 8 {
					resp.hides(t, logs.String(), part)
				}
			}
		})
	}
	assert.Equal(t, 1, is.hits(), "no refresh: the clock did not move past MinRefreshInterval since the initial fetch")
}

// tamper flips the payload's roles to include submit, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	payload = []byte(strings.Replace(string(payload), `"roles":["Vzarr.Read"]`, `"roles":["Vzarr.Submit"]`, 1))
	parts[1] = (&jwt.Token{}).EncodeSegment(payload)
	return strings.Join(parts, ".")
}

func TestEntraIdentity(t *testing.T) {
	is := newTestIssuer(t)
	a := newTestEntra(t, is, nil, func(c *Config) {
		c.SubmitRole, c.ReadRole = "Custom.Write", "Custom.Read"
		c.Audience = "api://other, " + testAudience // a list: any of them
	})
	c := is.claims(time.Now(), "Custom.Read", "Custom.Write", "Custom.Read", DefaultSubmitRole)
	delete(c, "name")
	c["azp"] = "client-app-id"
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "bearer "+sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, c, nil))
	id, err := a.Authenticate(req)
	require.NoError(t, err)
	assert.Equal(t, &Identity{Subject: "00000000-0000-0000-0000-00000000cafe", Name: "client-app-id", Method: ModeEntra,
		Roles: []Role{RoleRead, RoleSubmit}}, id)
}

func TestEntraKeyRotation(t *testing.T) {
	is := newTestIssuer(t)
	clock := &fakeClock{t: time.Now()}
	a := newTestEntra(t, is, clock, func(c *Config) { c.MinRefreshInterval = time.Minute })
	require.Equal(t, 1, is.hits())

	// The issuer rotates: a new key is published and tokens use it.
	is.publish(rsaJWK(kidRSA2, &rsaKey2.PublicKey))
	token := func() string {
		return sign(t, jwt.SigningMethodRS256, rsaKey2, kidRSA2, is.claims(clock.Now(), DefaultReadRole), nil)
	}

	// Right after the initial fetch the refresh is rate-limited: refused
	// without a fetch.
	resp := serve(t, a, RoleRead, nil, "Bearer "+token())
	assert.Equal(t, 401, resp.code)
	assert.Contains(t, resp.body["error"], "unknown signing key id")
	assert.Equal(t, 1, is.hits())

	// Once the interval has passed the unknown kid triggers one refresh
	// and the token is accepted; later tokens use the cache.
	clock.Add(time.Minute)
	for range 3 {
		resp = serve(t, a, RoleRead, nil, "Bearer "+token())
		assert.Equal(t, 200, resp.code, "%v", resp.body)
	}
	assert.Equal(t, 2, is.hits())

	// Old keys keep working while published.
	resp = serve(t, a, RoleRead, nil, "Bearer "+sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(clock.Now(), DefaultReadRole), nil))
	assert.Equal(t, 200, resp.code)

	// A withdrawn key stops working once the cache ages out (24 h).
	is.unpublish(kidRSA)
	clock.Add(25 * time.Hour)
	resp = serve(t, a, RoleRead, nil, "Bearer "+sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(clock.Now(), DefaultReadRole), nil))
	assert.Equal(t, 401, resp.code)
	assert.Equal(t, 3, is.hits())
}

func TestEntraRefreshRateBound(t *testing.T) {
	is := newTestIssuer(t)
	clock := &fakeClock{t: time.Now()}
	a := newTestEntra(t, is, clock, nil) // default MinRefreshInterval
	clock.Add(DefaultMinRefreshInterval)

	// A burst of tokens with random kids, from several goroutines at once.
	const n = 200
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			kid := fmt.Sprintf("random-%d", rand.Uint64())
			tok := sign(t, jwt.SigningMethodES256, attackerKey, kid, is.claims(clock.Now(), DefaultSubmitRole), nil)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			_, err := a.Authenticate(req)
			if assert.ErrorIs(t, err, ErrUnauthenticated) {
				codes[i] = 401
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		assert.Equal(t, 401, c, "token %d", i)
	}
	assert.Equal(t, 2, is.hits(), "the initial fetch and one refresh, whatever the number of unknown kids")

	// Known keys are served from the cache meanwhile.
	resp := serve(t, a, RoleSubmit, nil, "Bearer "+sign(t, jwt.SigningMethodES256, ecKey, kidEC, is.claims(clock.Now(), DefaultSubmitRole), nil))
	assert.Equal(t, 200, resp.code)
	assert.Equal(t, 2, is.hits())
}

func TestEntraRefreshFailureKeepsKeys(t *testing.T) {
	is := newTestIssuer(t)
	clock := &fakeClock{t: time.Now()}
	a := newTestEntra(t, is, clock, nil)
	is.mu.Lock()
	is.keys = []map[string]string{{"kty": "RSA", "kid": "bad", "n": "AQAB", "e": "AQAB"}} // a broken key set
	is.mu.Unlock()
	clock.Add(time.Hour)
	tok := func(kid string) string {
		return "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, kid, is.claims(clock.Now(), DefaultReadRole), nil)
	}
	assert.Equal(t, 401, serve(t, a, RoleRead, nil, tok("unknown")).code)
	assert.Equal(t, 2, is.hits())
	assert.Equal(t, 200, serve(t, a, RoleRead, nil, tok(kidRSA)).code, "the cached key survives a bad refresh")
}

func TestEntraJWKSURLDirect(t *testing.T) {
	is := newTestIssuer(t)
	is.mu.Lock()
	is.discovery = map[string]string{"issuer": "https://elsewhere.example"} // discovery would fail
	is.mu.Unlock()
	a := newTestEntra(t, is, nil, func(c *Config) { c.JWKSURL = is.URL() + "/keys" })
	resp := serve(t, a, RoleSubmit, nil, "Bearer "+sign(t, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(time.Now(), DefaultSubmitRole), nil))
	assert.Equal(t, 200, resp.code)
}

func TestNewErrors(t *testing.T) {
	is := newTestIssuer(t)
	mismatch := newTestIssuer(t)
	mismatch.discovery = map[string]string{"issuer": "https://login.microsoftonline.com/x/v2.0"}
	badKeys := newTestIssuer(t)
	badKeys.keys = nil
	insecure := newTestIssuer(t)
	insecure.discovery = map[string]string{"jwks_uri": "http://keys.example/keys"}
	redirect := httptest.NewServer(http.RedirectHandler("http://keys.example/openid-configuration", http.StatusFound))
	t.Cleanup(redirect.Close)
	entra := func(c Config) Config {
		c.Mode = ModeEntra
		if c.Audience == "" {
			c.Audience = testAudience
		}
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no mode", Config{}, `set VZARR_AUTH (or -auth) to "entra"`},
		{"unknown mode", Config{Mode: "basic"}, `unknown authentication mode "basic"`},
		{"token without file", Config{Mode: ModeToken}, "VZARR_AUTH_TOKENS_FILE"},
		{"token file missing", Config{Mode: ModeToken, TokensFile: "/nonexistent/tokens"}, "no such file"},
		{"entra without issuer", entra(Config{}), "VZARR_AUTH_ISSUER"},
		{"entra without audience", Config{Mode: ModeEntra, Issuer: is.URL(), Audience: " , "}, "VZARR_AUTH_AUDIENCE"},
		{"entra http issuer", entra(Config{Issuer: "http://login.example/t/v2.0"}), "must be an https URL"},
		{"entra http jwks", entra(Config{Issuer: is.URL(), JWKSURL: "http://10.0.0.1/keys"}), "must be an https URL"},
		{"entra discovery names http jwks_uri", entra(Config{Issuer: insecure.URL()}), "must be an https URL"},
		{"entra discovery issuer mismatch", entra(Config{Issuer: mismatch.URL()}), "VZARR_AUTH_JWKS_URL"},
		{"entra discovery redirects to http", entra(Config{Issuer: redirect.URL}), `redirect "http://keys.example/openid-configuration" must be an https URL`},
		{"entra no usable keys", entra(Config{Issuer: badKeys.URL()}), "no RS256 or ES256 signing key"},
		{"entra issuer unreachable", entra(Config{Issuer: "http://127.0.0.1:1"}), "OIDC discovery"},
		{"entra skew too large", entra(Config{Issuer: is.URL(), ClockSkew: time.Hour}), "clock skew"},
		{"entra negative interval", entra(Config{Issuer: is.URL(), MinRefreshInterval: -time.Second}), "refresh interval"},
		{"entra same roles", entra(Config{Issuer: is.URL(), SubmitRole: "X", ReadRole: "X"}), "must differ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = discardLogger()
			a, err := New(context.Background(), tc.cfg)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A known key of an aged set is served from the cache while another caller
// refreshes, never waiting for the key endpoint.
func TestEntraStaleKeyDoesNotWaitForRefresh(t *testing.T) {
	is := newTestIssuer(t)
	clock := &fakeClock{t: time.Now()}
	a := newTestEntra(t, is, clock, nil)
	clock.Add(25 * time.Hour)
	a.keys.fetchMu.Lock() // a refresh in flight
	k, err := a.keys.lookup(context.Background(), kidRSA)
	a.keys.fetchMu.Unlock()
	require.NoError(t, err)
	assert.Equal(t, "RS256", k.alg)
	assert.Equal(t, 1, is.hits())

	// With no refresh in flight the aged set is refreshed.
	_, err = a.keys.lookup(context.Background(), kidRSA)
	require.NoError(t, err)
	assert.Equal(t, 2, is.hits())
}

package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

func TestNoneMode(t *testing.T) {
	var logs testenv.SyncBuffer
	a, err := New(context.Background(), Config{Mode: " None ", Logger: logs.Logger()})
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "authentication is OFF")
	for _, role := range []Role{RoleSubmit, RoleRead} {
		resp := serve(t, a, role, nil)
		assert.Equal(t, 200, resp.code)
		assert.Equal(t, "anonymous", resp.body["subject"])
		assert.Equal(t, ModeNone, resp.body["method"])
	}
}

func TestCheckListenAddr(t *testing.T) {
	tests := []struct {
		mode, addr string
		ok         bool
	}{
		{"none", "127.0.0.1:8080", true},
		{"none", "127.1.2.3:8080", true},
		{"none", "[::1]:80", true},
		{"none", "localhost:1", true},
		{"none", "LocalHost:1", true},
		{"none", "127.0.0.1", true},
		{"NONE", "[::ffff:127.0.0.1]:80", true},
		{"none", "0.0.0.0:8080", false},
		{"none", ":8080", false},
		{"none", "", false},
		{"none", "[::]:8080", false},
		{"none", "10.0.0.1:80", false},
		{"none", "localhost.evil.example:80", false},
		{"none", "myhost:80", false},
		{"entra", "0.0.0.0:8080", true},
		{"token", ":8080", true},
	}
	for _, tc := range tests {
		t.Run(tc.mode+" "+tc.addr, func(t *testing.T) {
			err := CheckListenAddr(tc.mode, tc.addr)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrConfig)
				assert.Contains(t, err.Error(), "loopback")
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"VZARR_AUTH":             " Entra ",
		"VZARR_AUTH_ISSUER":      "https://login.microsoftonline.com/t/v2.0",
		"VZARR_AUTH_JWKS_URL":    "https://login.microsoftonline.com/t/discovery/v2.0/keys",
		"VZARR_AUTH_AUDIENCE":    "api://vzarr",
		"VZARR_AUTH_READ_ROLE":   "Custom.Read",
		"VZARR_AUTH_TOKENS_FILE": "/etc/vzarr/tokens",
	}
	got := ConfigFromEnv(func(k string) string { return env[k] })
	assert.Equal(t, Config{
		Mode:       "entra",
		Issuer:     "https://login.microsoftonline.com/t/v2.0",
		JWKSURL:    "https://login.microsoftonline.com/t/discovery/v2.0/keys",
		Audience:   "api://vzarr",
		SubmitRole: DefaultSubmitRole,
		ReadRole:   "Custom.Read",
		TokensFile: "/etc/vzarr/tokens",
	}, got)
	assert.Equal(t, Config{SubmitRole: DefaultSubmitRole, ReadRole: DefaultReadRole}, ConfigFromEnv(func(string) string { return "" }))
}

func TestIdentityHas(t *testing.T) {
	var nilID *Identity
	assert.False(t, nilID.Has(RoleRead))
	id := &Identity{Roles: []Role{RoleRead}}
	assert.True(t, id.Has(RoleRead))
	assert.False(t, id.Has(RoleSubmit))
}

func TestFromContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	assert.False(t, ok)
	_, ok = FromContext(NewContext(context.Background(), nil))
	assert.False(t, ok)
	id := &Identity{Subject: "s"}
	got, ok := FromContext(NewContext(context.Background(), id))
	assert.True(t, ok)
	assert.Same(t, id, got)
}

// stubAuth returns fixed results.
type stubAuth struct {
	id  *Identity
	err error
}

func (s stubAuth) Authenticate(*http.Request) (*Identity, error) { return s.id, s.err }

func TestRequireAuthenticatorResults(t *testing.T) {
	tests := []struct {
		name     string
		a        stubAuth
		wantCode int
		wantType string
	}{
		{"nil identity without error", stubAuth{}, 401, "unauthorized"},
		{"forbidden error", stubAuth{err: ErrForbidden}, 403, "forbidden"},
		{"other error", stubAuth{err: assert.AnError}, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := serve(t, tc.a, RoleRead, discardLogger())
			assert.Equal(t, tc.wantCode, resp.code)
			assert.Equal(t, tc.wantType, resp.body["error_type"])
		})
	}
	assert.Panics(t, func() { Require(nil, RoleRead, nil) })
}

func TestRequireResponseHeaders(t *testing.T) {
	h := Require(stubAuth{err: ErrNoCredentials}, RoleRead, discardLogger())(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, `{"success":false,"error":"unauthenticated: no bearer token","error_type":"unauthorized"}`, strings.TrimSpace(rec.Body.String()))
}

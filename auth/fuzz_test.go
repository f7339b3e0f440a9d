package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(testTokensFile()))
	f.Add([]byte("a:" + HashToken("x") + ":read\nb:" + HashToken("y") + ":submit,read\n"))
	f.Add([]byte("# only\n\n"))
	f.Add([]byte("a:b:c:d\n::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		clients, err := ParseTokens(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, ErrTokensFile) {
				t.Fatalf("error %v does not wrap ErrTokensFile", err)
			}
			return
		}
		names := map[string]bool{}
		for _, c := range clients {
			if !validClientName(c.Name) || names[c.Name] || len(c.Roles) == 0 {
				t.Fatalf("accepted bad client %+v", c)
			}
			names[c.Name] = true
		}
	})
}

// FuzzAuthenticate feeds arbitrary Authorization headers to every mode.
func FuzzAuthenticate(f *testing.F) {
	is := newTestIssuer(f)
	ea := newTestEntra(f, is, nil, nil)
	ta := NewTokenAuth([]TokenClient{{Name: "bot", Hash: sha(HashToken(botToken)), Roles: []Role{RoleRead}}})
	good := sign(f, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(time.Now(), DefaultReadRole), nil)
	for _, s := range []string{"Bearer " + good, "Bearer " + botToken, "bearer", "Basic x", "", "Bearer a.b.c",
		"Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer " + good[:len(good)/2], "Bearer ==="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["Authorization"] = []string{header}
		for _, a := range []Authenticator{ea, ta} {
			id, err := a.Authenticate(req)
			if err != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			if err == nil && (id == nil || id.Subject == "") {
				t.Fatalf("nil error without an identity")
			}
			if err != nil && len(header) > 16 && strings.Contains(err.Error(), header) {
				t.Fatalf("error echoes the header")
			}
		}
	})
}

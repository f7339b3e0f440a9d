package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func benchAuth(b *testing.B, a Authenticator, header string) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", header)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEntraRS256(b *testing.B) {
	is := newTestIssuer(b)
	a := newTestEntra(b, is, nil, nil)
	benchAuth(b, a, "Bearer "+sign(b, jwt.SigningMethodRS256, rsaKey, kidRSA, is.claims(time.Now(), DefaultReadRole), nil))
}

func BenchmarkEntraES256(b *testing.B) {
	is := newTestIssuer(b)
	a := newTestEntra(b, is, nil, nil)
	benchAuth(b, a, "Bearer "+sign(b, jwt.SigningMethodES256, ecKey, kidEC, is.claims(time.Now(), DefaultReadRole), nil))
}

// BenchmarkToken1000Clients measures token mode with a large file: every
// request compares against every client.
func BenchmarkToken1000Clients(b *testing.B) {
	clients := make([]TokenClient, 1000)
	for i := range clients {
		clients[i] = TokenClient{Name: fmt.Sprint("c", i), Hash: sha(HashToken(fmt.Sprint("token-", i))), Roles: []Role{RoleRead}}
	}
	benchAuth(b, NewTokenAuth(clients), "Bearer token-500")
}

package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseJWKS(t *testing.T) {
	testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	goodRSA, goodEC := rsaJWK("r", &rsaKey.PublicKey), ecJWK("e", &ecKey.PublicKey)
	mod := func(k map[string]string, kv ...string) map[string]string {
		c := map[string]string{}
		for a, b := range k {
			c[a] = b
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(c, kv[i])
			} else {
				c[kv[i]] = kv[i+1]
			}
		}
		return c
	}
	offCurve := mod(goodEC, "y", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	b64i := func(i int64) string { return base64.RawURLEncoding.EncodeToString(big.NewInt(i).Bytes()) }
	tests := []struct {
		name     string
		keys     []map[string]string
		wantKids map[string]string // kid -> alg
		wantErr  string
	}{
		{name: "rsa and ec", keys: []map[string]string{goodRSA, goodEC}, wantKids: map[string]string{"r": "RS256", "e": "ES256"}},
		{name: "alg given and matching", keys: []map[string]string{mod(goodRSA, "alg", "RS256"), mod(goodEC, "alg", "ES256")}, wantKids: map[string]string{"r": "RS256", "e": "ES256"}},
		{name: "skips enc, other alg, other curve, other kty", keys: []map[string]string{goodRSA, mod(goodEC, "kid", "enc", "use", "enc"),
			mod(goodRSA, "kid", "ps", "alg", "PS256"), mod(goodEC, "kid", "p384", "crv", "P-384"), {"kty": "oct", "kid": "h", "k": "c2VjcmV0"}},
			wantKids: map[string]string{"r": "RS256"}},
		{name: "no usable key", keys: []map[string]string{{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}}, wantErr: "no RS256 or ES256 signing key"},
		{name: "empty", keys: []map[string]string{}, wantErr: "no RS256 or ES256 signing key"},
		{name: "1024-bit RSA", keys: []map[string]string{rsaJWK("s", &small.PublicKey)}, wantErr: "RSA modulus of 1024 bits"},
		{name: "even exponent", keys: []map[string]string{mod(goodRSA, "e", b64i(65536))}, wantErr: "RSA exponent 65536"},
		{name: "exponent 1", keys: []map[string]string{mod(goodRSA, "e", b64i(1))}, wantErr: "RSA exponent 1"},
		{name: "huge exponent", keys: []map[string]string{mod(goodRSA, "e", "AQAAAAAB")}, wantErr: "e longer than 4 bytes"},
		{name: "modulus too long", keys: []map[string]string{mod(goodRSA, "n", base64.RawURLEncoding.EncodeToString(make([]byte, 1100)))}, wantErr: "n longer than 1024 bytes"},
		{name: "padded base64", keys: []map[string]string{mod(goodRSA, "e", "AQAB==")}, wantErr: "e:"},
		{name: "missing n", keys: []map[string]string{mod(goodRSA, "n", "")}, wantErr: "n missing"},
		{name: "EC point off the curve", keys: []map[string]string{offCurve}, wantErr: "P-256 point"},
		{name: "EC short x", keys: []map[string]string{mod(goodEC, "x", "AAAA")}, wantErr: "32 bytes"},
		{name: "missing kid", keys: []map[string]string{mod(goodRSA, "kid", "")}, wantErr: "kid missing"},
		{name: "duplicate kid", keys: []map[string]string{goodRSA, mod(goodEC, "kid", "r")}, wantErr: `duplicate kid "r"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(map[string]any{"keys": tc.keys})
			require.NoError(t, err)
			got, err := parseJWKS(data)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrJWKS)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			kids := map[string]string{}
			for kid, k := range got {
				kids[kid] = k.alg
			}
			assert.Equal(t, tc.wantKids, kids)
		})
	}

	for _, doc := range []string{``, `[]`, `{"keys": {}}`, `{"keys": [1]}`} {
		_, err := parseJWKS([]byte(doc))
		assert.ErrorIs(t, err, ErrJWKS, doc)
	}
	many := make([]map[string]string, maxKeys+1)
	data, _ := json.Marshal(map[string]any{"keys": many})
	_, err = parseJWKS(data)
	assert.ErrorContains(t, err, "at most 100")
}

package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/internal/testenv"
)

const (
	botToken    = "s3cret-bot-token-0123456789abcdef"
	readerToken = "s3cret-reader-token-fedcba9876543210"
)

func writeTokensFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	require.NoError(t, os.Chmod(p, perm))
	return p
}

func testTokensFile() string {
	return fmt.Sprintf("# vzarr clients\n\ningest-bot:%s:submit,read\r\n  dashboard : %s : read  \n", HashToken(botToken), strings.ToUpper(HashToken(readerToken)))
}

func TestTokenMode(t *testing.T) {
	path := writeTokensFile(t, testTokensFile(), 0o600)
	a, err := New(context.Background(), Config{Mode: ModeToken, TokensFile: path, Logger: discardLogger()})
	require.NoError(t, err)

	long := strings.Repeat("a", MaxTokenLen+1)
	tests := []struct {
		name      string
		authz     []string
		role      Role
		wantCode  int
		wantSub   string
		challenge string
		wantErr   string
	}{
		{name: "good token submit", authz: []string{"Bearer " + botToken}, role: RoleSubmit, wantCode: 200, wantSub: "ingest-bot"},
		{name: "good token read", authz: []string{"Bearer " + botToken}, role: RoleRead, wantCode: 200, wantSub: "ingest-bot"},
		{name: "scheme case-insensitive", authz: []string{"bEaReR " + readerToken}, role: RoleRead, wantCode: 200, wantSub: "dashboard"},
		{name: "read-only client on read", authz: []string{"Bearer " + readerToken}, role: RoleRead, wantCode: 200, wantSub: "dashboard"},
		{name: "read-only client on submit", authz: []string{"Bearer " + readerToken}, role: RoleSubmit, wantCode: 403, wantErr: "lacks role submit"},
		{name: "wrong token", authz: []string{"Bearer " + botToken + "x"}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "unknown bearer token"},
		{name: "the hash as token", authz: []string{"Bearer " + HashToken(botToken)}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "unknown bearer token"},
		{name: "no header", role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr"`, wantErr: "no bearer token"},
		{name: "basic scheme", authz: []string{"Basic " + botToken}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "scheme must be Bearer"},
		{name: "token without scheme", authz: []string{botToken}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "scheme must be Bearer"},
		{name: "empty token", authz: []string{"Bearer "}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "scheme must be Bearer"},
		{name: "blank token", authz: []string{"Bearer    "}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "scheme must be Bearer"},
		{name: "two headers", authz: []string{"Bearer " + botToken, "Bearer " + botToken}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "several Authorization headers"},
		{name: "oversize token", authz: []string{"Bearer " + long}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "longer than 8192 bytes"},
		{name: "oversize header", authz: []string{"Bearer " + long + long}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "header longer than 8192 bytes"},
		{name: "token with a space", authz: []string{"Bearer " + botToken + " extra"}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "token68"},
		{name: "token with control char", authz: []string{"Bearer " + botToken + "\x01"}, role: RoleRead, wantCode: 401, challenge: `Bearer realm="vzarr", error="invalid_token"`, wantErr: "token68"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs testenv.SyncBuffer
			resp := serve(t, a, tc.role, logs.Logger(), tc.authz...)
			resp.check(t, tc.wantCode, tc.wantSub, ModeToken)
			if tc.wantCode == 401 {
				assert.Equal(t, tc.challenge, resp.challenge)
			}
			if tc.wantErr != "" {
				assert.Contains(t, resp.body["error"], tc.wantErr)
				assert.Contains(t, logs.String(), tc.wantErr)
				assert.Contains(t, logs.String(), `"remote_addr":"192.0.2.1:1234"`)
			}
			resp.hides(t, logs.String(), botToken, readerToken)
		})
	}
}

func TestParseTokens(t *testing.T) {
	h1, h2 := HashToken("one"), HashToken("two")
	tests := []struct {
		name    string
		in      string
		want    []TokenClient
		wantErr string
	}{
		{name: "comments, blanks, CRLF, spaces, duplicate role", in: "# c\n\n a : " + h1 + " : read , submit,read \r\n#x:y:z\nb:" + h2 + ":READ\n",
			want: []TokenClient{{Name: "a", Hash: sha(h1), Roles: []Role{RoleRead, RoleSubmit}}, {Name: "b", Hash: sha(h2), Roles: []Role{RoleRead}}}},
		{name: "two fields", in: "# c\na:" + h1 + "\n", wantErr: "line 2: want NAME:SHA256-HEX-OF-TOKEN:ROLES (3 colon-separated fields), got 2"},
		{name: "four fields", in: "a:" + h1 + ":read:x\n", wantErr: "line 1: want NAME"},
		{name: "raw token instead of hash", in: "a:my-plain-token:read\n", wantErr: "line 1: the second field must be the SHA-256"},
		{name: "not hex", in: "a:" + strings.Repeat("g", 64) + ":read\n", wantErr: "line 1: the second field must be 64 hex digits"},
		{name: "unknown role", in: "a:" + h1 + ":admin\n", wantErr: `line 1: unknown role "admin"`},
		{name: "empty roles", in: "a:" + h1 + ":\n", wantErr: `line 1: unknown role ""`},
		{name: "empty role in list", in: "a:" + h1 + ":read,,submit\n", wantErr: `line 1: unknown role ""`},
		{name: "empty name", in: ":" + h1 + ":read\n", wantErr: "line 1: NAME must be"},
		{name: "bad name", in: "a b:" + h1 + ":read\n", wantErr: "line 1: NAME must be"},
		{name: "duplicate name", in: "a:" + h1 + ":read\n\na:" + h2 + ":read\n", wantErr: `line 3: client "a" already defined on line 1`},
		{name: "duplicate hash", in: "a:" + h1 + ":read\nb:" + strings.ToUpper(h1) + ":submit\n", wantErr: "line 2: same token hash as line 1"},
		{name: "empty file", in: "", wantErr: "no clients"},
		{name: "only comments", in: "# nothing\n\n", wantErr: "no clients"},
		{name: "too large", in: strings.Repeat("#", MaxTokensFileSize+1), wantErr: "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokens(strings.NewReader(tc.in))
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.ErrorIs(t, err, ErrTokensFile)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Nil(t, got)
			for _, secret := range []string{h1, h2, strings.ToUpper(h1), "my-plain-token"} {
				assert.NotContains(t, err.Error(), secret, "errors never echo a hash or token field")
			}
		})
	}
}

func sha(h string) (out [32]byte) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(out) {
		panic("bad test hash")
	}
	copy(out[:], b)
	return out
}

func TestLoadTokensFilePermissions(t *testing.T) {
	content := testTokensFile()
	tests := []struct {
		name     string
		perm     os.FileMode
		wantErr  string
		wantWarn bool
	}{
		{name: "owner only", perm: 0o600},
		{name: "owner read-only", perm: 0o400},
		{name: "group readable", perm: 0o640, wantWarn: true},
		{name: "world readable", perm: 0o644, wantWarn: true},
		{name: "world writable", perm: 0o606, wantErr: "world-writable"},
		{name: "world writable and readable", perm: 0o666, wantErr: "world-writable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs testenv.SyncBuffer
			path := writeTokensFile(t, content, tc.perm)
			a, err := LoadTokensFile(path, logs.Logger())
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrConfig)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, a)
				return
			}
			require.NoError(t, err)
			assert.Len(t, a.clients, 2)
			assert.Equal(t, tc.wantWarn, strings.Contains(logs.String(), "readable by group or others"), logs.String())
		})
	}

	t.Run("directory", func(t *testing.T) {
		_, err := LoadTokensFile(t.TempDir(), discardLogger())
		assert.ErrorContains(t, err, "not a regular file")
	})
	t.Run("malformed line names file and line", func(t *testing.T) {
		path := writeTokensFile(t, "ok:"+HashToken("x")+":read\nbroken\n", 0o600)
		_, err := New(context.Background(), Config{Mode: ModeToken, TokensFile: path, Logger: discardLogger()})
		require.ErrorIs(t, err, ErrTokensFile)
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), path+": invalid tokens file: line 2:")
	})
}

func TestTokenAuthIdentityIsACopy(t *testing.T) {
	a := NewTokenAuth([]TokenClient{{Name: "a", Hash: sha(HashToken("t")), Roles: []Role{RoleRead}}})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer t")
	id, err := a.Authenticate(req)
	require.NoError(t, err)
	id.Roles[0] = RoleSubmit // a handler mutating its identity
	id2, err := a.Authenticate(req)
	require.NoError(t, err)
	assert.Equal(t, []Role{RoleRead}, id2.Roles)
}

func TestHashToken(t *testing.T) {
	// printf %s abc | sha256sum
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", HashToken("abc"))
}

package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
)

// MaxTokensFileSize bounds the tokens file.
const MaxTokensFileSize = 1 << 20

// maxClientNameLen bounds a client NAME.
const maxClientNameLen = 128

// ErrTokensFile is wrapped by errors about the tokens file's content.
var ErrTokensFile = errors.New("invalid tokens file")

// TokenClient is one line of a tokens file.
type TokenClient struct {
	Name  string
	Hash  [sha256.Size]byte // SHA-256 of the client's token
	Roles []Role
}

// HashToken returns the lowercase hex SHA-256 of token, the form a tokens
// file holds (the same as `printf %s TOKEN | sha256sum`).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenAuth is the Authenticator of token mode.
type TokenAuth struct {
	clients []TokenClient
}

// NewTokenAuth returns a TokenAuth over clients (as ParseTokens returns
// them).
func NewTokenAuth(clients []TokenClient) *TokenAuth {
	return &TokenAuth{clients: clients}
}

// LoadTokensFile reads and parses the tokens file at path. A file others
// may write is refused; one others may read is accepted with a warning
// (it holds hashes, not tokens, but a weak token's hash can be guessed).
func LoadTokensFile(path string, log *slog.Logger) (*TokenAuth, error) {
	if log == nil {
		log = slog.Default()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: tokens file: %w", ErrConfig, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: tokens file: %w", ErrConfig, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: tokens file %s is not a regular file", ErrConfig, path)
	}
	if runtime.GOOS != "windows" {
		perm := st.Mode().Perm()
		if perm&0o002 != 0 {
			return nil, fmt.Errorf("%w: tokens file %s is world-writable (mode %04o); chmod o-w it", ErrConfig, path, perm)
		}
		if perm&0o044 != 0 {
			log.Warn("auth: tokens file is readable by group or others; chmod 600 it",
				slog.String("path", path), slog.String("mode", fmt.Sprintf("%04o", perm)))
		}
	}
	clients, err := ParseTokens(io.LimitReader(f, MaxTokensFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	return NewTokenAuth(clients), nil
}

// ParseTokens parses a tokens file: one NAME:SHA256-HEX-OF-TOKEN:ROLES line
// per client, ROLES a comma list of "submit" and "read"; blank lines and
// lines starting with # are ignored. Names and hashes must be unique and
// there must be at least one client. Errors wrap ErrTokensFile, name the
// line number and never echo a hash field.
func ParseTokens(r io.Reader) ([]TokenClient, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxTokensFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokensFile, err)
	}
	if len(data) > MaxTokensFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTokensFile, MaxTokensFileSize)
	}
	var clients []TokenClient
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxTokensFileSize+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrTokensFile, n, fmt.Sprintf(format, args...))
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 {
			return nil, bad("want NAME:SHA256-HEX-OF-TOKEN:ROLES (3 colon-separated fields), got %d fields", len(parts))
		}
		name, hexHash, roleList := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
		if !validClientName(name) {
			return nil, bad("NAME must be 1-%d characters of letters, digits and ._@- ", maxClientNameLen)
		}
		var c TokenClient
		c.Name = name
		if len(hexHash) != hex.EncodedLen(sha256.Size) {
			return nil, bad("the second field must be the SHA-256 of the token as 64 hex digits (printf %%s TOKEN | sha256sum), never the token itself")
		}
		if _, err := hex.Decode(c.Hash[:], []byte(hexHash)); err != nil {
			return nil, bad("the second field must be 64 hex digits")
		}
		seen := map[Role]bool{}
		for _, s := range strings.Split(roleList, ",") {
			role := Role(strings.ToLower(strings.TrimSpace(s)))
			switch role {
			case RoleSubmit, RoleRead:
			default:
				return nil, bad("unknown role %q (want a comma list of %q and %q)", truncate(string(role), 32), RoleSubmit, RoleRead)
			}
			if !seen[role] {
				seen[role] = true
				c.Roles = append(c.Roles, role)
			}
		}
		if prev, dup := names[name]; dup {
			return nil, bad("client %q already defined on line %d", name, prev)
		}
		if prev, dup := hashes[c.Hash]; dup {
			return nil, bad("same token hash as line %d (each client needs its own token)", prev)
		}
		names[name], hashes[c.Hash] = n, n
		clients = append(clients, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokensFile, err)
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("%w: no clients (add NAME:SHA256-HEX-OF-TOKEN:ROLES lines)", ErrTokensFile)
	}
	return clients, nil
}

func validClientName(s string) bool {
	if s == "" || len(s) > maxClientNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Authenticate hashes the request's bearer token and compares the hash with
// every client's in constant time, without stopping at a match.
func (t *TokenAuth) Authenticate(r *http.Request) (*Identity, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(tok))
	match := -1
	for i := range t.clients {
		eq := subtle.ConstantTimeCompare(sum[:], t.clients[i].Hash[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil, fmt.Errorf("%w: unknown bearer token", ErrUnauthenticated)
	}
	c := t.clients[match]
	return &Identity{Subject: c.Name, Name: c.Name, Method: ModeToken, Roles: append([]Role(nil), c.Roles...)}, nil
}

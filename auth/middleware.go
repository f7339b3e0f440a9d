package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Error types of Require's JSON error bodies.
const (
	ErrTypeUnauthorized = "unauthorized"
	ErrTypeForbidden    = "forbidden"
)

// errorBody has the shape of every vzarr error envelope
// ({"success": false, "error", "error_type"}, as pipeline.Envelope); it is
// declared here so the package stays free of vzarr's storage dependencies.
type errorBody struct {
	Success   bool   `json:"success"`
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
}

// BearerToken returns the token of the request's "Authorization: Bearer
// TOKEN" header (scheme case-insensitive). A missing header is
// ErrNoCredentials; another scheme, several Authorization headers, an empty
// or oversize (> MaxTokenLen) token or one with characters outside RFC
// 6750's token68 alphabet are errors wrapping ErrUnauthenticated. The token
// never appears in an error.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrNoCredentials
	case len(vals) > 1:
		return "", fmt.Errorf("%w: several Authorization headers", ErrUnauthenticated)
	}
	v := vals[0]
	if len(v) > MaxTokenLen+len("Bearer ")+16 {
		return "", fmt.Errorf("%w: Authorization header longer than %d bytes", ErrUnauthenticated, MaxTokenLen)
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", fmt.Errorf("%w: Authorization scheme must be Bearer", ErrUnauthenticated)
	}
	tok = strings.TrimLeft(tok, " ")
	switch {
	case tok == "":
		return "", fmt.Errorf("%w: empty bearer token", ErrUnauthenticated)
	case len(tok) > MaxTokenLen:
		return "", fmt.Errorf("%w: bearer token longer than %d bytes", ErrUnauthenticated, MaxTokenLen)
	case !isToken68(tok):
		return "", fmt.Errorf("%w: bearer token has characters outside the token68 alphabet", ErrUnauthenticated)
	}
	return tok, nil
}

// isToken68 reports whether s is RFC 7235 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// Require returns middleware that lets a request through only when a
// authenticates it and the identity holds role; the handler finds the
// identity with FromContext. Otherwise it answers, with a JSON error
// envelope:
//   - 401 and "WWW-Authenticate: Bearer" (plus error="invalid_token" when a
//     credential was presented) for missing or invalid credentials,
//     error_type "unauthorized";
//   - 403 and error="insufficient_scope" when the role is missing,
//     error_type "forbidden".
//
// Failures are logged to log (slog.Default() if nil) at warn level with the
// reason, method, path and remote address; tokens are never logged.
// Require panics if a is nil.
func Require(a Authenticator, role Role, log *slog.Logger) func(http.Handler) http.Handler {
	if a == nil {
		panic("auth.Require: nil Authenticator")
	}
	if log == nil {
		log = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attrs := []any{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("remote_addr", r.RemoteAddr),
				slog.String("role", string(role)),
			}
			id, err := a.Authenticate(r)
			if err == nil && id == nil {
				err = fmt.Errorf("%w: no identity", ErrUnauthenticated)
			}
			if err != nil {
				if errors.Is(err, ErrForbidden) {
					log.Warn("auth: forbidden", append(attrs, slog.String("reason", err.Error()))...)
					deny(w, http.StatusForbidden, `Bearer realm="vzarr", error="insufficient_scope"`, ErrTypeForbidden, err.Error())
					return
				}
				challenge := `Bearer realm="vzarr"`
				if !errors.Is(err, ErrNoCredentials) {
					challenge = `Bearer realm="vzarr", error="invalid_token"`
				}
				log.Warn("auth: unauthenticated", append(attrs, slog.String("reason", err.Error()))...)
				deny(w, http.StatusUnauthorized, challenge, ErrTypeUnauthorized, err.Error())
				return
			}
			attrs = append(attrs, slog.String("subject", id.Subject), slog.String("auth_method", id.Method))
			if !id.Has(role) {
				msg := fmt.Sprintf("%v: caller %q lacks role %s", ErrForbidden, id.Subject, role)
				log.Warn("auth: forbidden", append(attrs, slog.String("reason", msg))...)
				deny(w, http.StatusForbidden, `Bearer realm="vzarr", error="insufficient_scope"`, ErrTypeForbidden, msg)
				return
			}
			log.Debug("auth: authenticated", attrs...)
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
		})
	}
}

// deny writes an error response.
func deny(w http.ResponseWriter, code int, challenge, typ, msg string) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorBody{Success: false, Error: msg, ErrorType: typ})
}

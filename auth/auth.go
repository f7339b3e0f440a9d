package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Role is a permission an Identity holds.
type Role string

// The roles of the API.
const (
	// RoleSubmit allows creating jobs.
	RoleSubmit Role = "submit"
	// RoleRead allows reading job status and task listings.
	RoleRead Role = "read"
)

// Modes of Config.Mode.
const (
	ModeEntra = "entra"
	ModeToken = "token"
	ModeNone  = "none"
)

// Defaults of Config.
const (
	DefaultSubmitRole         = "Vzarr.Submit"
	DefaultReadRole           = "Vzarr.Read"
	DefaultClockSkew          = 2 * time.Minute
	DefaultMinRefreshInterval = time.Minute
	// MaxClockSkew bounds Config.ClockSkew: a large skew keeps expired
	// tokens alive.
	MaxClockSkew = 10 * time.Minute
	// MaxTokenLen is the longest bearer token accepted (Entra access
	// tokens are 1–3 KiB).
	MaxTokenLen = 8 << 10
)

// Identity is an authenticated caller.
type Identity struct {
	// Subject identifies the caller stably: the Entra object id (oid, or
	// sub when there is no oid), the token file's client NAME, or
	// "anonymous". Record it as submitted_by.
	Subject string
	// Name is a display name (Entra name, preferred_username or client
	// app id; the token NAME; "anonymous").
	Name string
	// Method is how the caller authenticated: "entra", "token" or "none".
	Method string
	// Roles are the roles the caller holds.
	Roles []Role
}

// Has reports whether the identity holds role r. A nil identity holds none.
func (id *Identity) Has(r Role) bool {
	if id == nil {
		return false
	}
	for _, have := range id.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Authenticator authenticates a request. Errors wrap ErrUnauthenticated.
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

var (
	// ErrUnauthenticated is wrapped by every error about missing or
	// invalid credentials (HTTP 401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden is wrapped by errors about an authenticated caller
	// lacking a role (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrNoCredentials is returned when the request carries no
	// Authorization header; it wraps ErrUnauthenticated.
	ErrNoCredentials = fmt.Errorf("%w: no bearer token", ErrUnauthenticated)
	// ErrConfig is wrapped by New's errors about the configuration.
	ErrConfig = errors.New("auth configuration")
)

// Config configures New. ConfigFromEnv fills it from the environment.
type Config struct {
	// Mode is "entra", "token" or "none". Empty is an error that says how
	// to configure authentication.
	Mode string

	// Issuer is the exact iss of accepted tokens, e.g.
	// https://login.microsoftonline.com/TENANT/v2.0 (entra mode, required).
	Issuer string
	// JWKSURL names the key set directly; empty means OIDC discovery from
	// Issuer.
	JWKSURL string
	// Audience is the accepted aud (the API's application ID URI or client
	// id; a comma-separated list accepts any of them). Required in entra
	// mode.
	Audience string
	// SubmitRole and ReadRole are the Entra app-role names granting
	// RoleSubmit and RoleRead (defaults "Vzarr.Submit", "Vzarr.Read").
	SubmitRole, ReadRole string

	// TokensFile is the token mode's client file.
	TokensFile string

	// ClockSkew is the leeway for exp, nbf and iat (default 2m, at most
	// MaxClockSkew).
	ClockSkew time.Duration
	// MinRefreshInterval is the least time between two key-set fetches
	// caused by unknown key ids (default 1m).
	MinRefreshInterval time.Duration

	// HTTPClient fetches discovery documents and key sets (default: a
	// client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives warnings (default slog.Default()).
	Logger *slog.Logger
}

// ConfigFromEnv reads the configuration from the environment through getenv
// (os.Getenv): VZARR_AUTH, VZARR_AUTH_ISSUER, VZARR_AUTH_JWKS_URL,
// VZARR_AUTH_AUDIENCE, VZARR_AUTH_SUBMIT_ROLE, VZARR_AUTH_READ_ROLE and
// VZARR_AUTH_TOKENS_FILE. Unset role names get their defaults.
func ConfigFromEnv(getenv func(string) string) Config {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Mode:       strings.ToLower(get("VZARR_AUTH")),
		Issuer:     get("VZARR_AUTH_ISSUER"),
		JWKSURL:    get("VZARR_AUTH_JWKS_URL"),
		Audience:   get("VZARR_AUTH_AUDIENCE"),
		SubmitRole: get("VZARR_AUTH_SUBMIT_ROLE"),
		ReadRole:   get("VZARR_AUTH_READ_ROLE"),
		TokensFile: get("VZARR_AUTH_TOKENS_FILE"),
	}
	if c.SubmitRole == "" {
		c.SubmitRole = DefaultSubmitRole
	}
	if c.ReadRole == "" {
		c.ReadRole = DefaultReadRole
	}
	return c
}

// howToConfigure is the hint of an unset or unknown mode.
const howToConfigure = `set VZARR_AUTH (or -auth) to "entra" (with VZARR_AUTH_ISSUER and VZARR_AUTH_AUDIENCE), ` +
	`"token" (with VZARR_AUTH_TOKENS_FILE listing NAME:SHA256-HEX-OF-TOKEN:ROLES lines) ` +
	`or "none" (no authentication, loopback listen addresses only)`

// New returns the Authenticator of c. In entra mode it fetches the key set
// (after discovery) before returning, so a wrong issuer fails at start; in
// token mode it reads and checks the tokens file.
func New(ctx context.Context, c Config) (Authenticator, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch mode := strings.ToLower(strings.TrimSpace(c.Mode)); mode {
	case "":
		return nil, fmt.Errorf("%w: no authentication mode: %s", ErrConfig, howToConfigure)
	case ModeEntra:
		return newEntra(ctx, c)
	case ModeToken:
		if c.TokensFile == "" {
			return nil, fmt.Errorf("%w: token mode needs a tokens file (VZARR_AUTH_TOKENS_FILE or -auth-tokens-file)", ErrConfig)
		}
		return LoadTokensFile(c.TokensFile, c.Logger)
	case ModeNone:
		c.Logger.Warn("auth: authentication is OFF (mode none): every caller has every role; use only on loopback for local development")
		return noneAuth{}, nil
	default:
		return nil, fmt.Errorf("%w: unknown authentication mode %q: %s", ErrConfig, mode, howToConfigure)
	}
}

// noneAuth is mode "none": everyone is anonymous with all roles.
type noneAuth struct{}

func (noneAuth) Authenticate(*http.Request) (*Identity, error) {
	return &Identity{Subject: "anonymous", Name: "anonymous", Method: ModeNone, Roles: []Role{RoleSubmit, RoleRead}}, nil
}

// CheckListenAddr refuses mode "none" unless addr (host:port as given to
// net.Listen) is a loopback address: 127.0.0.0/8, ::1 or localhost. An
// empty host (":8080") listens on every interface and is refused. Other
// modes are always allowed.
func CheckListenAddr(mode, addr string) error {
	if strings.ToLower(strings.TrimSpace(mode)) != ModeNone {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr // a bare host without port
	}
	if isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w: auth mode none is allowed only on a loopback listen address (127.0.0.1, [::1] or localhost), not %q", ErrConfig, addr)
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type ctxKey struct{}

// NewContext returns ctx carrying id (Require does this; handlers' tests
// may too).
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity Require put in ctx.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}

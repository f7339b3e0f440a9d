package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// allowedAlgs are the only JWT algorithms accepted: asymmetric, as Entra ID
// signs. "none" and HS* (which would let a public key act as an HMAC
// secret) are refused before any key is looked up.
var allowedAlgs = []string{"RS256", "ES256"}

// entraClaims are the claims of an Entra ID access token this package reads.
type entraClaims struct {
	jwt.RegisteredClaims
	Roles             []string `json:"roles"`
	OID               string   `json:"oid"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	AZP               string   `json:"azp"`   // v2 client app id
	AppID             string   `json:"appid"` // v1 client app id
}

// entraAuth is the Authenticator of entra mode.
type entraAuth struct {
	issuer string
	roles  map[string]Role // Entra app-role name -> Role
	parser *jwt.Parser
	keys   *keySet
	now    func() time.Time // replaced by tests
}

func newEntra(ctx context.Context, c Config) (*entraAuth, error) {
	if c.Issuer == "" {
		return nil, fmt.Errorf("%w: entra mode needs the token issuer (VZARR_AUTH_ISSUER, e.g. https://login.microsoftonline.com/TENANT-ID/v2.0)", ErrConfig)
	}
	if err := checkURL("issuer", c.Issuer); err != nil {
		return nil, err
	}
	var auds []string
	for _, a := range strings.Split(c.Audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			auds = append(auds, a)
		}
	}
	if len(auds) == 0 {
		return nil, fmt.Errorf("%w: entra mode needs the API's audience (VZARR_AUTH_AUDIENCE: its application ID URI or client id)", ErrConfig)
	}
	skew := c.ClockSkew
	switch {
	case skew == 0:
		skew = DefaultClockSkew
	case skew < 0 || skew > MaxClockSkew:
		return nil, fmt.Errorf("%w: clock skew %v out of range (0 to %v)", ErrConfig, skew, MaxClockSkew)
	}
	interval := c.MinRefreshInterval
	switch {
	case interval == 0:
		interval = DefaultMinRefreshInterval
	case interval < 0:
		return nil, fmt.Errorf("%w: negative key refresh interval %v", ErrConfig, interval)
	}
	submit, read := c.SubmitRole, c.ReadRole
	if submit == "" {
		submit = DefaultSubmitRole
	}
	if read == "" {
		read = DefaultReadRole
	}
	if submit == read {
		return nil, fmt.Errorf("%w: the submit and read app roles must differ (both %q)", ErrConfig, submit)
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}

	a := &entraAuth{
		issuer: c.Issuer,
		roles:  map[string]Role{submit: RoleSubmit, read: RoleRead},
		now:    time.Now,
	}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(auds...),
		jwt.WithLeeway(skew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return a.now() }),
	)

	jwksURL := c.JWKSURL
	if jwksURL != "" {
		if err := checkURL("JWKS URL", jwksURL); err != nil {
			return nil, err
		}
	} else {
		var err error
		if jwksURL, err = discoverJWKS(ctx, client, c.Issuer); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	a.keys = &keySet{
		url:         jwksURL,
		client:      client,
		log:         c.Logger,
		minInterval: interval,
		now:         func() time.Time { return a.now() },
	}
	if err := a.keys.refresh(ctx); err != nil {
		return nil, fmt.Errorf("auth: initial key set: %w", err)
	}
	c.Logger.Info("auth: entra mode", slog.String("issuer", c.Issuer), slog.Any("audience", auds),
		slog.String("jwks_url", jwksURL), slog.String("submit_role", submit), slog.String("read_role", read))
	return a, nil
}

// Authenticate validates the request's bearer JWT.
func (a *entraAuth) Authenticate(r *http.Request) (*Identity, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	// A refresh outlives a caller that hangs up, so a disconnect does not
	// waste the rate-limited refresh.
	ctx := context.WithoutCancel(r.Context())
	var claims entraClaims
	_, err = a.parser.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, fmt.Errorf("critical header extensions are not supported")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, fmt.Errorf("token has no kid")
		}
		if len(kid) > maxKidLen {
			return nil, fmt.Errorf("kid longer than %d bytes", maxKidLen)
		}
		k, err := a.keys.lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		if alg := t.Method.Alg(); alg != k.alg {
			return nil, fmt.Errorf("token alg %s does not fit key %q (%s)", alg, truncate(kid, 64), k.alg)
		}
		return k.key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: invalid bearer token: %w", ErrUnauthenticated, err)
	}
	id := &Identity{Subject: claims.OID, Method: ModeEntra}
	if id.Subject == "" {
		id.Subject = claims.Subject
	}
	if id.Subject == "" {
		return nil, fmt.Errorf("%w: invalid bearer token: no oid or sub claim", ErrUnauthenticated)
	}
	for _, n := range []string{claims.Name, claims.PreferredUsername, claims.AZP, claims.AppID, id.Subject} {
		if n != "" {
			id.Name = n
			break
		}
	}
	for _, name := range claims.Roles {
		if role, ok := a.roles[name]; ok && !id.Has(role) {
			id.Roles = append(id.Roles, role)
		}
	}
	return id, nil
}

// Package auth authenticates callers of an HTTP API with bearer tokens and
// authorizes them by role.
//
// Three modes, chosen explicitly (Config.Mode, VZARR_AUTH):
//
//   - "entra": OAuth2 access tokens (JWTs) as Microsoft Entra ID issues them.
//     The signature is checked against the issuer's JSON Web Key Set, found
//     by OpenID Connect discovery (ISSUER/.well-known/openid-configuration)
//     or named directly (VZARR_AUTH_JWKS_URL). Keys are cached and refreshed
//     when a token names an unknown key id, at most once per
//     Config.MinRefreshInterval, so a flood of tokens with made-up key ids
//     cannot hammer the key endpoint. Only RS256 and ES256 are accepted
//     (never "none", never HMAC with a public key); iss must equal the
//     configured issuer, aud the configured audience, and exp/nbf/iat are
//     checked with a small clock skew. The app roles in the "roles" claim
//     map to RoleSubmit and RoleRead (VZARR_AUTH_SUBMIT_ROLE, default
//     "Vzarr.Submit"; VZARR_AUTH_READ_ROLE, default "Vzarr.Read").
//   - "token": static bearer tokens for small deployments and tests. A file
//     (VZARR_AUTH_TOKENS_FILE) lists one client per line as
//     NAME:SHA256-HEX-OF-TOKEN:ROLES, e.g.
//     "ingest-bot:9f86d0…:submit,read". The file holds only hashes (see
//     HashToken); a presented token is hashed and compared in constant time
//     with every entry.
//   - "none": no authentication; every caller is "anonymous" with all roles.
//     For local development only: CheckListenAddr refuses it unless the
//     server listens on a loopback address.
//
// An empty mode is an error that says how to configure one: an API never
// runs unauthenticated by accident.
//
// Require is the middleware: it answers 401 (with WWW-Authenticate: Bearer)
// when credentials are missing or invalid, 403 when the caller lacks the
// role, and otherwise puts the caller's Identity in the request context
// (FromContext). Failures are logged with the reason and remote address;
// tokens are never logged or echoed.
//
// The package depends only on the standard library and
// github.com/golang-jwt/jwt/v5; the JWKS parsing (RSA and EC P-256 keys) is
// here, small enough to audit.
package auth

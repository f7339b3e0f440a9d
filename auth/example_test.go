package auth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/greensight/vzarr/auth"
)

// ExampleRequire protects a submit endpoint with token mode. The tokens file
// holds only the SHA-256 of each client's token.
func ExampleRequire() {
	dir, err := os.MkdirTemp("", "vzarr-auth")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	tokens := filepath.Join(dir, "tokens")
	content := "# NAME:SHA256-HEX-OF-TOKEN:ROLES\n" +
		"ingest-bot:" + auth.HashToken("bot-secret") + ":submit,read\n" +
		"dashboard:" + auth.HashToken("dash-secret") + ":read\n"
	if err := os.WriteFile(tokens, []byte(content), 0o600); err != nil {
		panic(err)
	}

	log := slog.New(slog.DiscardHandler)
	a, err := auth.New(context.Background(), auth.Config{Mode: "token", TokensFile: tokens, Logger: log})
	if err != nil {
		panic(err)
	}
	submit := auth.Require(a, auth.RoleSubmit, log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		fmt.Fprintf(w, "submitted by %s", id.Subject)
	}))
	srv := httptest.NewServer(submit)
	defer srv.Close()

	for _, token := range []string{"bot-secret", "dash-secret", "wrong", ""} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("WWW-Authenticate"))))
	}
	// Output:
	// 200
	// 403 Bearer realm="vzarr", error="insufficient_scope"
	// 401 Bearer realm="vzarr", error="invalid_token"
	// 401 Bearer realm="vzarr"
}

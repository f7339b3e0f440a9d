package stac_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// schemaFiles maps schema URLs to the local copies in testdata/schemas.
func schemaFile(url string) (string, bool) {
	url = strings.TrimSuffix(url, "#")
	switch {
	case strings.HasPrefix(url, "https://schemas.stacspec.org/"):
		// Any version: the v1.1.0 files still carry some v1.0.0 $ids.
		return filepath.Join("stac-1.1.0", filepath.Base(url)), true
	case strings.HasPrefix(url, "https://geojson.org/schema/"):
		return "geojson-" + filepath.Base(url), true
	case url == "https://stac-extensions.github.io/datacube/v2.3.0/schema.json":
		return "datacube-v2.3.0.json", true
	case url == "https://stac-extensions.github.io/xarray-assets/v1.0.0/schema.json":
		return "xarray-assets-v1.0.0.json", true
	case url == "https://stac-extensions.github.io/zarr/v1.1.0/schema.json":
		return "zarr-v1.1.0.json", true
	}
	return "", false
}

type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	if strings.HasPrefix(url, "https://proj.org/schemas/") {
		return map[string]any{"type": "object"}, nil
	}
	name, ok := schemaFile(url)
	if !ok {
		return nil, fmt.Errorf("no local copy of schema %s", url)
	}
	f, err := os.Open(filepath.Join("testdata", "schemas", name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

func compiled(t *testing.T, url string) *jsonschema.Schema {
	t.Helper()
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[url]; ok {
		return s
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offlineLoader{})
	c.UseRegexpEngine(lookaheadRegexp)
	c.AssertFormat()
	s, err := c.Compile(url)
	require.NoError(t, err, "compiling %s", url)
	schemaCache[url] = s
	return s
}

// validateItem validates an Item's JSON against the STAC 1.1 item schema
// and the schema of every extension it lists, as stac-validator does. It
// returns the first failure.
func validateItem(t *testing.T, raw []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	urls := []string{"https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"}
	var head struct {
		Extensions []string `json:"stac_extensions"`
	}
	require.NoError(t, json.Unmarshal(raw, &head))
	urls = append(urls, head.Extensions...)
	for _, u := range urls {
		if err := compiled(t, u).Validate(doc); err != nil {
			return fmt.Errorf("%s: %v", u, err)
		}
	}
	return nil
}

// notPrefix is the regexp "^(?!PREFIX)": strings not starting with PREFIX.
type notPrefix struct{ src, prefix string }

func (n notPrefix) MatchString(s string) bool { return !strings.HasPrefix(s, n.prefix) }
func (n notPrefix) String() string            { return n.src }

var lookahead = regexp.MustCompile(`^\^\(\?!([A-Za-z0-9_:]+)\)$`)

// lookaheadRegexp compiles patterns with Go's regexp, except the
// negative lookahead "^(?!cube:)" the STAC extension schemas use (RE2 has
// no lookahead), which it implements itself.
func lookaheadRegexp(s string) (jsonschema.Regexp, error) {
	if m := lookahead.FindStringSubmatch(s); m != nil {
		return notPrefix{src: s, prefix: m[1]}, nil
	}
	return regexp.Compile(s)
}

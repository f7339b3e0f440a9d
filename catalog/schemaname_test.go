package catalog_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/greensight/vzarr/catalog"
)

// TestValidSchemaNameMatchesPattern: ValidSchemaName accepts exactly what
// the regular expression it replaces accepts, less the "pg_" names.
func TestValidSchemaNameMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	for _, s := range []string{"", "a", "_", "app", "a1", "1a", "A", "aB", "a-b", "a b", "a\n", "é", "pg_x", "pg", "pgx",
		strings.Repeat("x", 62), strings.Repeat("x", 63), strings.Repeat("x", 64), "vzarr_test_1"} {
		assert.Equal(t, re.MatchString(s) && !strings.HasPrefix(s, "pg_"), catalog.ValidSchemaName(s), "%q", s)
	}
	assert.True(t, catalog.ValidSchemaName(catalog.DefaultSchema))
}

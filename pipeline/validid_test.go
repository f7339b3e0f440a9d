package pipeline

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidIDMatchesPattern: validID accepts exactly what the regular
// expression it replaces accepts.
func TestValidIDMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	for _, s := range []string{"", "a", "A9", "9", ".a", "_a", "-a", "a.b_c-d", "a b", "a/b", "é", "aé", "a\n", "a\x00",
		strings.Repeat("x", 127), strings.Repeat("x", 128), strings.Repeat("x", 129), "era5.t2m_v1-2", "a..", "a$", "a*"} {
		assert.Equal(t, re.MatchString(s), validID(s), "%q", s)
	}
}

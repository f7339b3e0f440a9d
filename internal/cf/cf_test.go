package cf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLonLatUnits(t *testing.T) {
	for _, u := range []string{"degrees_east", "Degree_E", " degreesE "} {
		assert.True(t, IsLonUnits(u), u)
		assert.False(t, IsLatUnits(u), u)
	}
	for _, u := range []string{"degrees_north", "degree_N", "degreen"} {
		assert.True(t, IsLatUnits(u), u)
		assert.False(t, IsLonUnits(u), u)
	}
	for _, u := range []string{"degrees", "m", "", "degrees_west"} {
		assert.False(t, IsLonUnits(u) || IsLatUnits(u), u)
	}
}

package limits_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greensight/vzarr/limits"
)

func TestDefaults(t *testing.T) {
	d := limits.Default()
	assert.Equal(t, int64(50_000_000), d.CoordElements)
	assert.Equal(t, int64(20_000_000), d.ChunksPerVariable)
	assert.Equal(t, int64(20_000_000), d.ChunksPerFile)
	assert.Equal(t, int64(limits.DefaultCombinedRefs), d.CombinedRefs)
	assert.Equal(t, int64(limits.DefaultAttrBytes), d.AttrBytes)
	assert.Equal(t, int64(limits.DefaultStringBytes), d.StringBytes)
	assert.Equal(t, int64(limits.DefaultDepth), d.Depth)
	// Set fields stay; negative ones (no limit) too.
	l := limits.Limits{CoordElements: 7, Depth: -1}.WithDefaults()
	assert.Equal(t, int64(7), l.CoordElements)
	assert.Equal(t, int64(-1), l.Depth)
	assert.Equal(t, d.ChunksPerFile, l.ChunksPerFile)
	for _, name := range limits.Names() {
		require.NotNil(t, d.Field(name), name)
		assert.Positive(t, *d.Field(name), name)
		assert.NotEmpty(t, limits.Describe(name), name)
	}
	assert.Nil(t, d.Field("nope"))
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		value uint64
		limit int64
		fails bool
	}{
		{"below", 10, 11, false},
		{"equal", 11, 11, false},
		{"above", 12, 11, true},
		{"huge", math.MaxUint64, 50_000_000, true},
		{"no limit", math.MaxUint64, -1, false},
		{"zero limit is none", 5, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := limits.Check(limits.CoordElements, c.value, c.limit)
			if !c.fails {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, limits.ErrExceeded)
			var le *limits.Error
			require.ErrorAs(t, err, &le)
			assert.Equal(t, c.value, le.Value)
			assert.Equal(t, c.limit, le.Limit)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := limits.CheckVar(limits.CoordElements, "a.nc", "time", 1<<40, 50_000_000)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"a.nc", `"time"`, "1099511627776", "50000000", "--limit-coord-elements", "VZARR_LIMIT_COORD_ELEMENTS"} {
		assert.Contains(t, msg, want)
	}
	overflow := limits.Check(limits.ChunksPerFile, math.MaxUint64, 3)
	assert.Contains(t, overflow.Error(), "more than 2^64")

	// Locate names what is not named yet, through wrapping, and keeps
	// what is.
	wrapped := fmt.Errorf("reading: %w", limits.Check(limits.AttrBytes, 9, 8))
	assert.Same(t, wrapped, limits.Locate(wrapped, "b.nc", "@history"))
	var le *limits.Error
	require.ErrorAs(t, wrapped, &le)
	assert.Equal(t, "b.nc", le.File)
	assert.Equal(t, "@history", le.Variable)
	limits.Locate(wrapped, "c.nc", "other")
	assert.Equal(t, "b.nc", le.File)
	plain := errors.New("x")
	assert.Same(t, plain, limits.Locate(plain, "c.nc", "v"))
}

func TestParseValueAndEnv(t *testing.T) {
	for in, want := range map[string]int64{"5": 5, "50M": 50_000_000, "2k": 2000, "1G": 1_000_000_000, "5e7": 50_000_000, "-1": -1, " 7 ": 7} {
		got, err := limits.ParseValue(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "x", "1.5", "NaN", "99999999999999999999G"} {
		_, err := limits.ParseValue(bad)
		assert.Error(t, err, bad)
	}

	env := map[string]string{"VZARR_LIMIT_COORD_ELEMENTS": "1000", "VZARR_LIMIT_DEPTH": "-1"}
	l, err := limits.Default().FromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, int64(1000), l.CoordElements)
	assert.Equal(t, int64(-1), l.Depth)
	assert.Equal(t, int64(limits.DefaultChunksPerFile), l.ChunksPerFile)

	env["VZARR_LIMIT_ATTR_BYTES"] = "lots"
	_, err = limits.Default().FromEnv(func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "VZARR_LIMIT_ATTR_BYTES")
}

func TestProduct(t *testing.T) {
	assert.Equal(t, uint64(1), limits.Product([]int{}))
	assert.Equal(t, uint64(24), limits.Product([]int{2, 3, 4}))
	assert.Equal(t, uint64(0), limits.Product([]int64{5, 0}))
	assert.Equal(t, uint64(math.MaxUint64), limits.Product([]int{-1, 3}))
	assert.Equal(t, uint64(math.MaxUint64), limits.Product([]uint64{1 << 32, 1 << 32}))
	assert.Equal(t, uint64(math.MaxUint64), limits.Mul(1<<40, 1<<40))
	assert.Equal(t, uint64(1<<40), limits.Mul(1<<20, 1<<20))
}

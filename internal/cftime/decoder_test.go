package cftime

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecoderCalendarUnits(t *testing.T) {
	for _, c := range []struct {
		units string
		cal   Calendar
		v     float64
		want  Time
		secs  float64
	}{
		{"months since 2000-01-15", Standard, 13, Time{Year: 2001, Month: 2, Day: 15}, 0},
		{"months since 2000-01-31", Standard, 1, Time{Year: 2000, Month: 2, Day: 29}, 0},
		{"years since 1850-07-01", NoLeap, 150, Time{Year: 2000, Month: 7, Day: 1}, 0},
		{"common_years since 1850-07-01", NoLeap, 1, Time{Year: 1851, Month: 7, Day: 1}, 0},
		{"Months since 2000-01-01", Day360, 13, Time{Year: 2001, Month: 2, Day: 1}, 30 * 86400},
		{"weeks since 2000-01-01", Standard, 2, Time{Year: 2000, Month: 1, Day: 15}, 7 * 86400},
		{"hours since 2000-01-01", Standard, 36, Time{Year: 2000, Month: 1, Day: 2, Hour: 12}, 3600},
	} {
		d, err := NewDecoder(c.units, c.cal)
		require.NoError(t, err, c.units)
		in, err := d.Decode(c.v)
		require.NoError(t, err, c.units)
		assert.Equal(t, c.want, c.cal.Date(in), c.units)
		assert.Equal(t, c.secs, d.UnitSeconds(), c.units)
		assert.Equal(t, c.units, d.Units.Text)
	}
	d, err := NewDecoder("months since 2000-01-01", Standard)
	require.NoError(t, err)
	_, err = d.Decode(1.5)
	assert.ErrorIs(t, err, ErrInexact, "fractional months in a real calendar")
	_, err = NewDecoder("fortnights since 2000-01-01", Standard)
	assert.ErrorIs(t, err, ErrUnits)
	_, err = NewDecoder("days", Standard)
	assert.ErrorIs(t, err, ErrUnits)
}

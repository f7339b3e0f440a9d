package cftime

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAgainstCFTime checks decoding and re-encoding against the values
// Python's cftime computed (testdata/gen_series.py).
func TestAgainstCFTime(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "series", "cftime_truth.json"))
	require.NoError(t, err)
	var truth struct {
		Cases []struct {
			Calendar string               `json:"calendar"`
			Units    string               `json:"units"`
			Values   []float64            `json:"values"`
			ISO      []string             `json:"iso"`
			Encode   map[string][]float64 `json:"encode"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &truth))
	require.NotEmpty(t, truth.Cases)
	checked, inexact := 0, 0
	for _, c := range truth.Cases {
		cal, err := ParseCalendar(c.Calendar)
		require.NoError(t, err)
		u, err := ParseUnits(c.Units, cal)
		require.NoError(t, err, c.Units)
		for i, v := range c.Values {
			want := c.ISO[i]
			if want[0] == '-' || want[:4] == "0000" {
				// cftime numbers real-world years without a year 0;
				// this package numbers them astronomically.
				continue
			}
			in, err := u.Decode(v)
			require.NoError(t, err)
			got := cal.Date(in)
			gotISO := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06d", got.Year, got.Month, got.Day, got.Hour, got.Minute, got.Second, got.Nanosecond/1000)
			assert.Equal(t, want, gotISO, "%s %s %v", c.Calendar, c.Units, v)
			back, err := cal.Instant(got)
			require.NoError(t, err)
			assert.Equal(t, in, back, "round trip %s %s", c.Calendar, gotISO)
			for u2text, vals := range c.Encode {
				u2, err := ParseUnits(u2text, cal)
				require.NoError(t, err)
				enc, err := u2.Encode(in)
				if err != nil {
					// Only when not even cftime's number decodes back
					// exactly (pandas' nanosecond truncation of a float
					// of days far from the epoch).
					require.ErrorIs(t, err, ErrInexact)
					again, _ := u2.Decode(vals[i])
					assert.NotEqual(t, in, again, "%s: encoding %s in %q: %v", c.Calendar, want, u2text, err)
					inexact++
					continue
				}
				assert.InDelta(t, vals[i], enc, 1e-9*math.Max(1, math.Abs(vals[i])), "%s %s in %q", c.Calendar, want, u2text)
				again, err := u2.Decode(enc)
				require.NoError(t, err)
				assert.Equal(t, in, again)
				checked++
			}
		}
	}
	assert.Greater(t, checked, 1000)
	t.Logf("%d re-encodings exact, %d not representable in float64 (as with cftime's numbers)", checked, inexact)
}

func TestParseUnits(t *testing.T) {
	for _, c := range []struct {
		units string
		iso   string
		unit  int64
	}{
		{"days since 2000-01-01", "2000-01-01T00:00:00Z", 86400e9},
		{"Days since 2000-1-1", "2000-01-01T00:00:00Z", 86400e9},
		{"hours since 2000-01-01 06:00:00", "2000-01-01T06:00:00Z", 3600e9},
		{"hours since 2000-01-01T06:00", "2000-01-01T06:00:00Z", 3600e9},
		{"seconds since 1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 1e9},
		{"seconds since 1970-01-01 00:00:00.5 UTC", "1970-01-01T00:00:00.5Z", 1e9},
		{"minutes since 2000-01-01 00:00:00 +06:00", "1999-12-31T18:00:00Z", 60e9},
		{"hours since 2000-01-01 00:00 -0130", "2000-01-01T01:30:00Z", 3600e9},
		{"msec since 2000-01-01", "2000-01-01T00:00:00Z", 1e6},
	} {
		u, err := ParseUnits(c.units, Standard)
		require.NoError(t, err, c.units)
		assert.Equal(t, c.iso, u.Calendar.Date(u.Epoch).ISO(), c.units)
		assert.Equal(t, c.unit, u.Unit, c.units)
		assert.True(t, IsTimeUnits(c.units))
	}
	for _, s := range []string{"K", "days", "months since 2000-01-01", "days since yesterday", "days since 2000-13-01"} {
		_, err := ParseUnits(s, Standard)
		assert.Error(t, err, s)
	}
	assert.False(t, IsTimeUnits("months since 2000-01-01"))
	_, err := ParseUnits("days since 2001-02-29", NoLeap)
	assert.ErrorIs(t, err, ErrCalendar)
	_, err = ParseUnits("days since 2001-02-30", Day360)
	assert.NoError(t, err)
	_, err = ParseCalendar("lunar")
	assert.ErrorIs(t, err, ErrCalendar)
	for _, s := range []string{"gregorian", "STANDARD", ""} {
		c, err := ParseCalendar(s)
		require.NoError(t, err)
		assert.Equal(t, Standard, c)
	}
}

func TestReencode(t *testing.T) {
	// 8 hours in "days": 1/3 day, which must decode back to exactly 8h.
	from, err := ParseUnits("hours since 2000-01-11", Standard)
	require.NoError(t, err)
	to, err := ParseUnits("days since 2000-01-01", Standard)
	require.NoError(t, err)
	in, err := from.Decode(8)
	require.NoError(t, err)
	v, err := to.Encode(in)
	require.NoError(t, err)
	assert.InDelta(t, 10+1.0/3, v, 1e-12)
	back, err := to.Decode(v)
	require.NoError(t, err)
	assert.Equal(t, in, back)
	assert.Equal(t, "2000-01-11T08:00:00Z", Standard.Date(back).ISO())

	// The standard calendar skips 1582-10-05..14.
	u, err := ParseUnits("days since 1582-10-04", Standard)
	require.NoError(t, err)
	in, err = u.Decode(1)
	require.NoError(t, err)
	assert.Equal(t, "1582-10-15T00:00:00Z", Standard.Date(in).ISO())
	_, err = Standard.Instant(Time{Year: 1582, Month: 10, Day: 10})
	assert.ErrorIs(t, err, ErrCalendar)

	// Converting between calendars keeps the date; 360_day's Feb 30 has
	// no noleap equivalent.
	d360, err := Day360.Instant(Time{Year: 2001, Month: 2, Day: 30})
	require.NoError(t, err)
	_, err = Day360.Convert(d360, NoLeap)
	assert.ErrorIs(t, err, ErrCalendar)
	d360, _ = Day360.Instant(Time{Year: 2001, Month: 3, Day: 1, Hour: 12})
	nl, err := Day360.Convert(d360, NoLeap)
	require.NoError(t, err)
	assert.Equal(t, "2001-03-01T12:00:00Z", NoLeap.Date(nl).ISO())

	// Leap days per calendar.
	assert.Equal(t, 29, Julian.MonthDays(1900, 2))
	assert.Equal(t, 28, ProlepticGregorian.MonthDays(1900, 2))
	assert.Equal(t, 29, Standard.MonthDays(1500, 2))
	assert.Equal(t, 29, AllLeap.MonthDays(2001, 2))
	assert.Equal(t, 28, NoLeap.MonthDays(2000, 2))
	assert.Equal(t, 30, Day360.MonthDays(2000, 2))
}

func TestAddMonths(t *testing.T) {
	jan31 := Time{Year: 2001, Month: 1, Day: 31, Hour: 6}
	assert.Equal(t, Time{Year: 2001, Month: 2, Day: 28, Hour: 6}, Standard.AddMonths(jan31, 1))
	assert.Equal(t, Time{Year: 2001, Month: 2, Day: 29, Hour: 6}, AllLeap.AddMonths(jan31, 1))
	assert.Equal(t, Time{Year: 2001, Month: 2, Day: 30, Hour: 6}, Day360.AddMonths(Time{Year: 2001, Month: 1, Day: 30, Hour: 6}, 1))
	assert.Equal(t, Time{Year: 2000, Month: 12, Day: 31, Hour: 6}, Standard.AddMonths(jan31, -1))
	assert.Equal(t, Time{Year: 1999, Month: 11, Day: 30, Hour: 6}, Standard.AddMonths(jan31, -14))
	assert.Equal(t, Time{Year: 2151, Month: 1, Day: 31, Hour: 6}, NoLeap.AddMonths(jan31, 150*12))
}

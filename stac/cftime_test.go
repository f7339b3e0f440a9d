package stac

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeCFTime(t *testing.T) {
	date := func(y, m, d, h, mi, s int) time.Time { return time.Date(y, time.Month(m), d, h, mi, s, 0, time.UTC) }
	tests := []struct {
		units, cal string
		v          float64
		want       time.Time
	}{
		{"days since 2000-01-01", "", 31, date(2000, 2, 1, 0, 0, 0)},
		{"days since 2000-01-01", "standard", -1, date(1999, 12, 31, 0, 0, 0)},
		{"days since 2000-01-01", "gregorian", 0.25, date(2000, 1, 1, 6, 0, 0)},
		{"days since 2000-1-1 0:0:0", "proleptic_gregorian", 366, date(2001, 1, 1, 0, 0, 0)},
		{"hours since 1900-01-01 00:00:00.0", "", 876576, date(2000, 1, 1, 0, 0, 0)},
		{"seconds since 1970-01-01T00:00:00Z", "", 1704067200, date(2024, 1, 1, 0, 0, 0)},
		{"seconds since 1970-01-01 00:00:00 UTC", "", 60, date(1970, 1, 1, 0, 1, 0)},
		{"minutes since 2000-01-01 00:00:00 +01:00", "", 60, date(2000, 1, 1, 0, 0, 0)},
		{"milliseconds since 2000-01-01", "", 1500, date(2000, 1, 1, 0, 0, 1).Add(500 * time.Millisecond)},
		{"days since 2000-01-01", "noleap", 59, date(2000, 3, 1, 0, 0, 0)},
		{"days since 2000-01-01", "365_day", 365, date(2001, 1, 1, 0, 0, 0)},
		{"days since 2001-01-01", "all_leap", 59, date(2001, 2, 28, 0, 0, 0)}, // 29 Feb 2001 clamped
		{"days since 2001-01-01", "366_day", 60, date(2001, 3, 1, 0, 0, 0)},
		{"days since 2000-01-01", "360_day", 30, date(2000, 2, 1, 0, 0, 0)},
		{"days since 2001-01-01", "360_day", 59, date(2001, 2, 28, 0, 0, 0)}, // 30 Feb clamped
		{"days since 2000-01-01", "360_day", 360, date(2001, 1, 1, 0, 0, 0)},
		{"months since 2000-01-01", "360_day", 13, date(2001, 2, 1, 0, 0, 0)},
		{"months since 2000-01-15", "standard", 13, date(2001, 2, 15, 0, 0, 0)},
		{"years since 1850-07-01", "noleap", 150, date(2000, 7, 1, 0, 0, 0)},
		{"days since 1582-10-05", "julian", 0, date(1582, 10, 15, 0, 0, 0)},
		{"days since 2000-01-01", "julian", 0, date(2000, 1, 14, 0, 0, 0)},
		// The standard calendar is Julian before 1582-10-15 (CF, cftime):
		// its 0001-01-01 is two days before the proleptic Gregorian one.
		{"days since 0001-01-01", "standard", 730119, date(1999, 12, 30, 0, 0, 0)},
		{"days since 0001-01-01", "proleptic_gregorian", 730119, date(2000, 1, 1, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.units+"/"+tc.cal, func(t *testing.T) {
			ct, err := parseCFTime(tc.units, tc.cal)
			require.NoError(t, err)
			c, err := ct.decode(tc.v)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ct.toTime(c))
		})
	}
}

func TestDecodeCFTimeErrors(t *testing.T) {
	for _, tc := range []struct{ units, cal string }{
		{"days", ""},
		{"fortnights since 2000-01-01", ""},
		{"days since yesterday", ""},
		{"days since 2000-13-01", ""},
		{"days since 2000-01-01", "lunar"},
		{"days since 2001-02-29", "noleap"},
	} {
		_, err := parseCFTime(tc.units, tc.cal)
		assert.ErrorIs(t, err, ErrTimeUnits, "%s / %s", tc.units, tc.cal)
	}
	ct, err := parseCFTime("months since 2000-01-01", "standard")
	require.NoError(t, err)
	_, err = ct.decode(1.5)
	assert.ErrorIs(t, err, ErrTimeUnits, "fractional months in a real calendar")
}

func TestISODuration(t *testing.T) {
	for secs, want := range map[float64]string{
		86400: "P1D", 7 * 86400: "P7D", 3600: "PT1H", 21600: "PT6H", 5400: "PT1H30M",
		90: "PT1M30S", 0.5: "PT0.5S", 86400 + 3600: "P1DT1H", 0: "",
	} {
		assert.Equal(t, want, isoDuration(secs), "%v s", secs)
	}
}

func TestSummarizeTimes(t *testing.T) {
	seq := func(start, step float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = start + step*float64(i)
		}
		return out
	}
	tests := []struct {
		name, units, cal string
		vals             []float64
		complete         bool
		spacing          Spacing
		step             string
		start, end       string
	}{
		{"daily", "days since 2000-01-01", "", seq(0, 1, 10), true, SpacingRegular, "P1D", "2000-01-01T00:00:00Z", "2000-01-10T00:00:00Z"},
		{"6-hourly", "hours since 2000-01-01", "", seq(0, 6, 8), true, SpacingRegular, "PT6H", "2000-01-01T00:00:00Z", "2000-01-02T18:00:00Z"},
		{"monthly starts", "days since 2001-01-01", "", []float64{0, 31, 59, 90}, true, SpacingRegular, "P1M", "2001-01-01T00:00:00Z", "2001-04-01T00:00:00Z"},
		{"monthly means", "days since 2001-01-01", "", []float64{15.5, 45, 74.5, 105}, true, SpacingRegular, "P1M", "2001-01-16T12:00:00Z", "2001-04-16T00:00:00Z"},
		{"360-day months", "days since 2001-01-01", "360_day", seq(15, 30, 24), true, SpacingRegular, "P1M", "2001-01-16T00:00:00Z", "2002-12-16T00:00:00Z"},
		{"seasonal", "days since 2001-01-01", "noleap", []float64{0, 90, 181, 273}, true, SpacingRegular, "P3M", "2001-01-01T00:00:00Z", "2001-10-01T00:00:00Z"},
		{"yearly", "days since 2000-01-01", "", []float64{0, 366, 731}, true, SpacingRegular, "P1Y", "2000-01-01T00:00:00Z", "2002-01-01T00:00:00Z"},
		{"irregular", "days since 2000-01-01", "", []float64{0, 1, 3}, true, SpacingIrregular, "", "2000-01-01T00:00:00Z", "2000-01-04T00:00:00Z"},
		{"partial", "days since 2000-01-01", "", []float64{0, nan(), 9}, false, SpacingUnknown, "", "2000-01-01T00:00:00Z", "2000-01-10T00:00:00Z"},
		{"single", "days since 2000-01-01", "", []float64{5}, true, SpacingUnknown, "", "2000-01-06T00:00:00Z", "2000-01-06T00:00:00Z"},
		{"descending", "days since 2000-01-01", "", []float64{2, 1, 0}, true, SpacingRegular, "-P1D", "2000-01-01T00:00:00Z", "2000-01-03T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := parseCFTime(tc.units, tc.cal)
			require.NoError(t, err)
			ax, err := summarizeTimes(ct, tc.vals, tc.complete)
			require.NoError(t, err)
			assert.Equal(t, tc.spacing, ax.spacing)
			assert.Equal(t, tc.step, ax.step)
			assert.Equal(t, tc.start, formatTime(ax.start))
			assert.Equal(t, tc.end, formatTime(ax.end))
		})
	}
}

func nan() float64 { return math.NaN() }

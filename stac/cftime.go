package stac

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/greensight/vzarr/internal/cftime"
)

// ErrTimeUnits reports CF time units or a calendar that cannot be decoded.
var ErrTimeUnits = errors.New("stac: cannot decode CF time")

// cfTime decodes numeric time coordinates: CF units and calendars as
// xarray decodes them, and also "weeks", "months" and "years", which some
// files use (cftime.Decoder).
type cfTime struct {
	d *cftime.Decoder
}

// parseCFTime parses CF time units ("days since 1850-01-01 00:00:00") and
// a calendar name ("" means standard).
func parseCFTime(units, calName string) (*cfTime, error) {
	cal, err := cftime.ParseCalendar(calName)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimeUnits, err)
	}
	d, err := cftime.NewDecoder(strings.TrimSpace(units), cal)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimeUnits, err)
	}
	return &cfTime{d: d}, nil
}

// calendar is the calendar of the units.
func (ct *cfTime) calendar() cftime.Calendar { return ct.d.Units.Calendar }

// unitSeconds is the length of one unit in seconds; 0 for calendar months
// and years.
func (ct *cfTime) unitSeconds() float64 { return ct.d.UnitSeconds() }

// decode turns a coordinate value into an instant of the calendar.
func (ct *cfTime) decode(v float64) (cftime.Instant, error) {
	in, err := ct.d.Decode(v)
	if err != nil {
		return cftime.Instant{}, fmt.Errorf("%w: %w", ErrTimeUnits, err)
	}
	return in, nil
}

// toTime returns an instant as a UTC time. Dates of the model calendars
// keep their year, month and day; a day that does not exist in the
// Gregorian calendar (30 February of a 360-day year, 29 February of an
// all-leap year) becomes the last day of its month. Julian dates (of the
// julian calendar, and of the standard one before 1582-10-15) are
// converted to the Gregorian calendar.
func (ct *cfTime) toTime(in cftime.Instant) time.Time {
	var t cftime.Time
	switch cal := ct.calendar(); cal {
	case cftime.Standard, cftime.ProlepticGregorian, cftime.Julian:
		// Their day numbers are all Julian day numbers.
		t = cftime.ProlepticGregorian.Date(in)
	default:
		t = cal.Date(in)
	}
	last := time.Date(t.Year, time.Month(t.Month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(t.Year, time.Month(t.Month), min(t.Day, last), t.Hour, t.Minute, t.Second, t.Nanosecond, time.UTC)
}

// isoDuration writes a whole number of seconds (or a fraction) as an ISO
// 8601 duration: 86400 → "P1D", 21600 → "PT6H", 5400 → "PT1H30M".
func isoDuration(secs float64) string {
	if secs <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("P")
	days := math.Floor(secs/86400 + 1e-9)
	rest := secs - days*86400
	if rest < 1e-6 {
		rest = 0
	}
	if days > 0 {
		fmt.Fprintf(&b, "%dD", int64(days))
	}
	if rest > 0 {
		b.WriteString("T")
		h := math.Floor(rest/3600 + 1e-9)
		rest -= h * 3600
		m := math.Floor(rest/60 + 1e-9)
		rest -= m * 60
		if rest < 1e-6 {
			rest = 0
		}
		if h > 0 {
			fmt.Fprintf(&b, "%dH", int64(h))
		}
		if m > 0 {
			fmt.Fprintf(&b, "%dM", int64(m))
		}
		if rest > 0 {
			b.WriteString(strconv.FormatFloat(rest, 'f', -1, 64))
			b.WriteString("S")
		}
	}
	return b.String()
}

// timeAxis summarizes decoded time values: extent and regular step.
type timeAxis struct {
	start, end time.Time
	spacing    Spacing
	step       string
}

// summarizeTimes describes time coordinate values (raw numbers in the
// units of ct). complete says whether vals holds every value; when not,
// only the extent is known.
func summarizeTimes(ct *cfTime, vals []float64, complete bool) (*timeAxis, error) {
	var finite []float64
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
	if len(finite) == 0 {
		return nil, fmt.Errorf("%w: no valid time values", ErrTimeUnits)
	}
	lo, hi := finite[0], finite[0]
	for _, v := range finite {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	cs, err := ct.decode(lo)
	if err != nil {
		return nil, err
	}
	ce, err := ct.decode(hi)
	if err != nil {
		return nil, err
	}
	ax := &timeAxis{start: ct.toTime(cs), end: ct.toTime(ce)}
	if !complete || len(finite) != len(vals) || len(vals) < 2 {
		return ax, nil
	}
	dates := make([]cftime.Time, len(vals))
	for i, v := range vals {
		in, err := ct.decode(v)
		if err != nil {
			return nil, err
		}
		dates[i] = ct.calendar().Date(in)
	}
	if k := monthlyStep(dates); k != 0 {
		ax.spacing = SpacingRegular
		if k%12 == 0 {
			ax.step = fmt.Sprintf("P%dY", k/12)
		} else {
			ax.step = fmt.Sprintf("P%dM", k)
		}
		return ax, nil
	}
	unit := ct.unitSeconds()
	if unit == 0 { // whole months in a real calendar, not monthly: irregular
		ax.spacing = SpacingIrregular
		return ax, nil
	}
	d0 := (vals[1] - vals[0]) * unit
	regular := d0 != 0
	for i := 1; i < len(vals) && regular; i++ {
		d := (vals[i] - vals[i-1]) * unit
		regular = math.Abs(d-d0) <= 1e-6*math.Abs(d0)+1e-3
	}
	if !regular {
		ax.spacing = SpacingIrregular
		return ax, nil
	}
	ax.spacing = SpacingRegular
	ax.step = isoDuration(math.Abs(d0))
	if d0 < 0 {
		ax.step = "-" + ax.step
	}
	return ax, nil
}

// monthlyStep returns k when dates advance by k calendar months each
// (monthly, seasonal or yearly data), at the same time of day and about
// the same day of the month (within three days, as for mid-month stamps
// of monthly means); else 0.
func monthlyStep(dates []cftime.Time) int {
	idx := func(t cftime.Time) int64 { return int64(t.Year)*12 + int64(t.Month-1) }
	clock := func(t cftime.Time) cftime.Time {
		return cftime.Time{Hour: t.Hour, Minute: t.Minute, Second: t.Second, Nanosecond: t.Nanosecond}
	}
	k := idx(dates[1]) - idx(dates[0])
	if k <= 0 {
		return 0
	}
	minD, maxD := dates[0].Day, dates[0].Day
	for i, t := range dates {
		if i > 0 && idx(t)-idx(dates[i-1]) != k {
			return 0
		}
		minD, maxD = min(minD, t.Day), max(maxD, t.Day)
	}
	if maxD-minD > 3 {
		return 0
	}
	if maxD == minD {
		for _, t := range dates {
			if clock(t) != clock(dates[0]) {
				return 0
			}
		}
	}
	return int(k)
}

// formatTime writes a time as RFC 3339 in UTC, "2020-01-01T00:00:00Z".
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

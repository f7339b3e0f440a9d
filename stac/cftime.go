package stac

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrTimeUnits reports CF time units or a calendar that cannot be decoded.
var ErrTimeUnits = errors.New("stac: cannot decode CF time")

// cfTime decodes numeric time coordinates the way CF (and cftime) do:
// "<unit> since <reference date>" in a calendar.
type cfTime struct {
	unitSeconds float64 // 0 for months and years
	months      int     // 1 for "months", 12 for "years" (calendar arithmetic)
	cal         calendar
	ref         civil // reference date in the calendar
}

// civil is a date and time of day in some calendar.
type civil struct {
	y, m, d int   // m and d from 1
	ns      int64 // nanoseconds since midnight
}

type calendar interface {
	// days returns the day number of y-m-d (any fixed epoch).
	days(y, m, d int) int64
	// date returns the y-m-d of a day number.
	date(n int64) (y, m, d int)
	monthDays(y, m int) int
}

var unitSeconds = map[string]float64{
	"nanoseconds": 1e-9, "nanosecond": 1e-9, "ns": 1e-9,
	"microseconds": 1e-6, "microsecond": 1e-6, "us": 1e-6, "usec": 1e-6, "usecs": 1e-6,
	"milliseconds": 1e-3, "millisecond": 1e-3, "ms": 1e-3, "msec": 1e-3, "msecs": 1e-3,
	"seconds": 1, "second": 1, "secs": 1, "sec": 1, "s": 1,
	"minutes": 60, "minute": 60, "mins": 60, "min": 60,
	"hours": 3600, "hour": 3600, "hrs": 3600, "hr": 3600, "h": 3600,
	"days": 86400, "day": 86400, "d": 86400,
	"weeks": 7 * 86400, "week": 7 * 86400,
}

// parseCFTime parses CF time units ("days since 1850-01-01 00:00:00") and
// a calendar name ("" means standard).
func parseCFTime(units, calName string) (*cfTime, error) {
	unit, since, ok := strings.Cut(strings.TrimSpace(units), " since ")
	if !ok {
		return nil, fmt.Errorf("%w: units %q are not \"<unit> since <date>\"", ErrTimeUnits, units)
	}
	ct := &cfTime{}
	var err error
	if ct.cal, err = calendarOf(calName); err != nil {
		return nil, err
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	switch unit {
	case "months", "month":
		ct.months = 1
	case "years", "year", "common_years", "common_year":
		ct.months = 12
	default:
		s, ok := unitSeconds[unit]
		if !ok {
			return nil, fmt.Errorf("%w: unknown time unit %q", ErrTimeUnits, unit)
		}
		ct.unitSeconds = s
	}
	if _, is360 := ct.cal.(cal360); is360 && ct.months != 0 {
		// In the 360-day calendar months and years have a fixed length.
		ct.unitSeconds, ct.months = float64(ct.months)*30*86400, 0
	}
	if ct.ref, err = parseRefDate(strings.TrimSpace(since)); err != nil {
		return nil, fmt.Errorf("%w: units %q: %v", ErrTimeUnits, units, err)
	}
	if ct.ref.d > ct.cal.monthDays(ct.ref.y, ct.ref.m) {
		return nil, fmt.Errorf("%w: units %q: no such day in the calendar", ErrTimeUnits, units)
	}
	return ct, nil
}

// parseRefDate parses "1850-1-1", "1850-01-01 00:00:00.0", "1970-01-01T00:00:00Z",
// "2000-01-01 00:00:00 +00:00".
func parseRefDate(s string) (civil, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return civil{}, errors.New("empty reference date")
	}
	if date, clock, ok := strings.Cut(fields[0], "T"); ok {
		fields = append([]string{date, clock}, fields[1:]...)
	}
	var c civil
	neg := strings.HasPrefix(fields[0], "-")
	parts := strings.Split(strings.TrimPrefix(fields[0], "-"), "-")
	if len(parts) < 1 || len(parts) > 3 {
		return civil{}, fmt.Errorf("bad date %q", fields[0])
	}
	nums := []int{0, 1, 1}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return civil{}, fmt.Errorf("bad date %q", fields[0])
		}
		nums[i] = v
	}
	c.y, c.m, c.d = nums[0], nums[1], nums[2]
	if neg {
		c.y = -c.y
	}
	if c.m < 1 || c.m > 12 || c.d < 1 || c.d > 31 {
		return civil{}, fmt.Errorf("bad date %q", fields[0])
	}
	tz := ""
	if len(fields) > 1 {
		clock := strings.TrimSuffix(fields[1], "Z")
		if i := strings.IndexAny(clock, "+-"); i > 0 {
			clock, tz = clock[:i], clock[i:]
		}
		hms := strings.Split(clock, ":")
		if len(hms) > 3 {
			return civil{}, fmt.Errorf("bad time %q", fields[1])
		}
		mult := []float64{3600, 60, 1}
		var secs float64
		for i, p := range hms {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || v < 0 {
				return civil{}, fmt.Errorf("bad time %q", fields[1])
			}
			secs += v * mult[i]
		}
		if secs >= 86400+1 {
			return civil{}, fmt.Errorf("bad time %q", fields[1])
		}
		c.ns = int64(math.Round(secs * 1e9))
	}
	if len(fields) > 2 {
		tz = fields[2]
	}
	if tz != "" && tz != "UTC" && tz != "Z" {
		off, err := parseTZ(tz)
		if err != nil {
			return civil{}, err
		}
		c.ns -= off // local time minus offset is UTC
	}
	return c, nil
}

// parseTZ parses "+00:00", "-0500", "+5" into nanoseconds.
func parseTZ(tz string) (int64, error) {
	sign := int64(1)
	switch tz[0] {
	case '+':
		tz = tz[1:]
	case '-':
		sign, tz = -1, tz[1:]
	default:
		return 0, fmt.Errorf("bad time zone %q", tz)
	}
	h, m := tz, "0"
	if a, b, ok := strings.Cut(tz, ":"); ok {
		h, m = a, b
	} else if len(tz) == 4 {
		h, m = tz[:2], tz[2:]
	}
	hv, err1 := strconv.Atoi(h)
	mv, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad time zone %q", tz)
	}
	return sign * (int64(hv)*3600 + int64(mv)*60) * 1e9, nil
}

// decode turns a coordinate value into a date of the calendar.
func (ct *cfTime) decode(v float64) (civil, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return civil{}, fmt.Errorf("%w: value %v", ErrTimeUnits, v)
	}
	base := ct.cal.days(ct.ref.y, ct.ref.m, ct.ref.d)
	if ct.months != 0 {
		n := v * float64(ct.months)
		if n != math.Trunc(n) || math.Abs(n) > 1e7 {
			return civil{}, fmt.Errorf("%w: %v months is not a whole number of months", ErrTimeUnits, n)
		}
		mi := int64(ct.ref.y)*12 + int64(ct.ref.m-1) + int64(n)
		y, m := int(floorDiv(mi, 12)), int(mi-floorDiv(mi, 12)*12)+1
		d := min(ct.ref.d, ct.cal.monthDays(y, m))
		return ct.norm(ct.cal.days(y, m, d), ct.ref.ns), nil
	}
	secs := v * ct.unitSeconds
	if math.Abs(secs) > 1e14 { // about three million years
		return civil{}, fmt.Errorf("%w: value %v out of range", ErrTimeUnits, v)
	}
	days := math.Floor(secs / 86400)
	ns := int64(math.Round((secs - days*86400) * 1e9))
	return ct.norm(base+int64(days), ct.ref.ns+ns), nil
}

// norm carries nanoseconds beyond a day into the day number.
func (ct *cfTime) norm(day, ns int64) civil {
	const dayNS = 86400 * 1e9
	day += floorDiv(ns, dayNS)
	ns -= floorDiv(ns, dayNS) * dayNS
	y, m, d := ct.cal.date(day)
	return civil{y, m, d, ns}
}

// toTime returns the date as a UTC time. Dates of the non-real calendars
// keep their year, month and day; a day that does not exist in the
// Gregorian calendar (30 February of a 360-day year, 29 February of an
// all-leap year) becomes the last day of its month. Julian dates are
// converted to the Gregorian calendar.
func (ct *cfTime) toTime(c civil) time.Time {
	if _, ok := ct.cal.(calJulian); ok {
		jd := ct.cal.days(c.y, c.m, c.d)
		y, m, d := calGregorian{}.date(jd)
		c.y, c.m, c.d = y, m, d
	}
	last := time.Date(c.y, time.Month(c.m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	d := min(c.d, last)
	return time.Date(c.y, time.Month(c.m), d, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.ns))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func calendarOf(name string) (calendar, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "standard", "gregorian", "proleptic_gregorian":
		// "standard" switches to the Julian calendar before 1582-10-15;
		// the dates of climate data are after it.
		return calGregorian{}, nil
	case "noleap", "365_day":
		return calFixed{leap: false}, nil
	case "all_leap", "366_day":
		return calFixed{leap: true}, nil
	case "360_day":
		return cal360{}, nil
	case "julian":
		return calJulian{}, nil
	}
	return nil, fmt.Errorf("%w: unsupported calendar %q", ErrTimeUnits, name)
}

var cumDays = [13]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365}

// calGregorian is the proleptic Gregorian calendar; day numbers are Julian
// Day Numbers.
type calGregorian struct{}

func (calGregorian) days(y, m, d int) int64 {
	a := int64((14 - m) / 12)
	yy := int64(y) + 4800 - a
	mm := int64(m) + 12*a - 3
	return int64(d) + (153*mm+2)/5 + 365*yy + floorDiv(yy, 4) - floorDiv(yy, 100) + floorDiv(yy, 400) - 32045
}

func (calGregorian) date(jdn int64) (int, int, int) {
	a := jdn + 32044
	b := floorDiv(4*a+3, 146097)
	c := a - floorDiv(146097*b, 4)
	d := floorDiv(4*c+3, 1461)
	e := c - floorDiv(1461*d, 4)
	m := floorDiv(5*e+2, 153)
	day := e - floorDiv(153*m+2, 5) + 1
	month := m + 3 - 12*floorDiv(m, 10)
	year := 100*b + d - 4800 + floorDiv(m, 10)
	return int(year), int(month), int(day)
}

func (calGregorian) monthDays(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// calJulian is the Julian calendar; day numbers are Julian Day Numbers.
type calJulian struct{}

func (calJulian) days(y, m, d int) int64 {
	a := int64((14 - m) / 12)
	yy := int64(y) + 4800 - a
	mm := int64(m) + 12*a - 3
	return int64(d) + (153*mm+2)/5 + 365*yy + floorDiv(yy, 4) - 32083
}

func (calJulian) date(jdn int64) (int, int, int) {
	c := jdn + 32082
	d := floorDiv(4*c+3, 1461)
	e := c - floorDiv(1461*d, 4)
	m := floorDiv(5*e+2, 153)
	day := e - floorDiv(153*m+2, 5) + 1
	month := m + 3 - 12*floorDiv(m, 10)
	year := d - 4800 + floorDiv(m, 10)
	return int(year), int(month), int(day)
}

func (calJulian) monthDays(y, m int) int {
	if m == 2 {
		if floorDiv(int64(y), 4)*4 == int64(y) {
			return 29
		}
		return 28
	}
	return cumDays[m] - cumDays[m-1]
}

// calFixed is the 365-day (noleap) or 366-day (all_leap) calendar.
type calFixed struct{ leap bool }

func (c calFixed) yearDays() int64 {
	if c.leap {
		return 366
	}
	return 365
}

func (c calFixed) before(m int) int {
	n := cumDays[m-1]
	if c.leap && m > 2 {
		n++
	}
	return n
}

func (c calFixed) days(y, m, d int) int64 {
	return int64(y)*c.yearDays() + int64(c.before(m)) + int64(d-1)
}

func (c calFixed) date(n int64) (int, int, int) {
	y := floorDiv(n, c.yearDays())
	r := int(n - y*c.yearDays())
	m := 12
	for m > 1 && c.before(m) > r {
		m--
	}
	return int(y), m, r - c.before(m) + 1
}

func (c calFixed) monthDays(_, m int) int {
	if m == 2 && c.leap {
		return 29
	}
	return cumDays[m] - cumDays[m-1]
}

// cal360 is the 360-day calendar: twelve months of 30 days.
type cal360 struct{}

func (cal360) days(y, m, d int) int64 { return int64(y)*360 + int64(m-1)*30 + int64(d-1) }

func (cal360) date(n int64) (int, int, int) {
	y := floorDiv(n, 360)
	r := int(n - y*360)
	return int(y), r/30 + 1, r%30 + 1
}

func (cal360) monthDays(int, int) int { return 30 }

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
	dates := make([]civil, len(vals))
	for i, v := range vals {
		if dates[i], err = ct.decode(v); err != nil {
			return nil, err
		}
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
	unit := ct.unitSeconds
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
func monthlyStep(dates []civil) int {
	idx := func(c civil) int64 { return int64(c.y)*12 + int64(c.m-1) }
	k := idx(dates[1]) - idx(dates[0])
	if k <= 0 {
		return 0
	}
	minD, maxD := dates[0].d, dates[0].d
	for i, c := range dates {
		if i > 0 && idx(c)-idx(dates[i-1]) != k {
			return 0
		}
		minD, maxD = min(minD, c.d), max(maxD, c.d)
	}
	if maxD-minD > 3 {
		return 0
	}
	if maxD == minD {
		for _, c := range dates {
			if c.ns != dates[0].ns {
				return 0
			}
		}
	}
	return int(k)
}

// formatTime writes a time as RFC 3339 in UTC, "2020-01-01T00:00:00Z".
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Package cftime decodes and encodes CF time coordinates ("<unit> since
// <date>") in the CF calendars, as xarray (with pandas or cftime) does, so
// that times written in one file's units can be re-encoded exactly in
// another's.
//
// Calendars: standard/gregorian (Julian before 1582-10-15, Gregorian
// from then on), proleptic_gregorian, noleap/365_day, all_leap/366_day,
// 360_day and julian. Units: days, hours, minutes, seconds, milliseconds,
// microseconds and nanoseconds (with the usual abbreviations), since a
// date with an optional time and time zone offset. Years use astronomical
// numbering (year 0 is 1 BC).
//
// An Instant is a day number in its calendar plus nanoseconds of the day;
// instants of one calendar compare and subtract exactly.
package cftime

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// ErrUnits reports units that are not CF time units this package reads.
var ErrUnits = errors.New("cftime: not CF time units")

// ErrCalendar reports an unknown calendar or a date it does not have.
var ErrCalendar = errors.New("cftime: bad calendar or date")

// ErrInexact reports a time that the target units and dtype cannot hold
// exactly.
var ErrInexact = errors.New("cftime: time not representable exactly")

// Calendar is a CF calendar.
type Calendar int

// The CF calendars.
const (
	Standard Calendar = iota
	ProlepticGregorian
	NoLeap
	AllLeap
	Day360
	Julian
)

var calendarNames = [...]string{"standard", "proleptic_gregorian", "noleap", "all_leap", "360_day", "julian"}

// String returns the calendar's CF name ("standard", "noleap", ...).
func (c Calendar) String() string {
	if int(c) < len(calendarNames) {
		return calendarNames[c]
	}
	return "calendar(" + strconv.Itoa(int(c)) + ")"
}

// ParseCalendar reads a CF calendar attribute ("" means standard),
// ignoring case: standard, gregorian, proleptic_gregorian, noleap,
// 365_day, all_leap, 366_day, 360_day, julian.
func ParseCalendar(s string) (Calendar, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "standard", "gregorian":
		return Standard, nil
	case "proleptic_gregorian":
		return ProlepticGregorian, nil
	case "noleap", "365_day":
		return NoLeap, nil
	case "all_leap", "366_day":
		return AllLeap, nil
	case "360_day":
		return Day360, nil
	case "julian":
		return Julian, nil
	}
	return 0, fmt.Errorf("%w: unknown calendar %q", ErrCalendar, s)
}

// usesCFTime reports whether xarray decodes the calendar with cftime
// (microsecond resolution) rather than pandas (nanoseconds).
func (c Calendar) usesCFTime() bool {
	return c != Standard && c != ProlepticGregorian
}

// Time is a date and time of day in some calendar.
type Time struct {
	Year, Month, Day     int
	Hour, Minute, Second int
	Nanosecond           int
}

// ISO formats t as ISO 8601 in UTC: 2006-01-02T15:04:05Z, with fractional
// seconds only when there are any.
func (t Time) ISO() string {
	var b strings.Builder
	y := t.Year
	if y < 0 {
		b.WriteByte('-')
		y = -y
	}
	fmt.Fprintf(&b, "%04d-%02d-%02dT%02d:%02d:%02d", y, t.Month, t.Day, t.Hour, t.Minute, t.Second)
	if t.Nanosecond != 0 {
		frac := fmt.Sprintf("%09d", t.Nanosecond)
		b.WriteByte('.')
		b.WriteString(strings.TrimRight(frac, "0"))
	}
	b.WriteByte('Z')
	return b.String()
}

const nsPerDay = 86400 * int64(1e9)

// Instant is a point in time of one calendar: a day number (see
// Calendar.Instant) and nanoseconds since the start of that day.
type Instant struct {
	Day int64
	Ns  int64
}

// Before reports whether a is earlier than b.
func (a Instant) Before(b Instant) bool { return a.Day < b.Day || (a.Day == b.Day && a.Ns < b.Ns) }

func (a Instant) norm() Instant {
	if a.Ns >= nsPerDay || a.Ns < 0 {
		d := floorDiv(a.Ns, nsPerDay)
		a.Day += d
		a.Ns -= d * nsPerDay
	}
	return a
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

var cumDays = [13]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365}
var cumDaysLeap = [13]int{0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366}

// MonthDays returns the number of days of a month.
func (c Calendar) MonthDays(year, month int) int {
	if month < 1 || month > 12 {
		return 0
	}
	switch c {
	case Day360:
		return 30
	case NoLeap:
		return cumDays[month] - cumDays[month-1]
	case AllLeap:
		return cumDaysLeap[month] - cumDaysLeap[month-1]
	}
	leap := false
	switch {
	case c == Julian || (c == Standard && year < 1582):
		leap = year%4 == 0
	case c == Standard && year == 1582:
		leap = false
	default:
		leap = year%4 == 0 && (year%100 != 0 || year%400 == 0)
	}
	if leap {
		return cumDaysLeap[month] - cumDaysLeap[month-1]
	}
	return cumDays[month] - cumDays[month-1]
}

// gregorianJDN is the Julian day number of a proleptic Gregorian date.
func gregorianJDN(y, m, d int64) int64 {
	a := (14 - m) / 12
	yy := y + 4800 - a
	mm := m + 12*a - 3
	return d + (153*mm+2)/5 + 365*yy + floorDiv(yy, 4) - floorDiv(yy, 100) + floorDiv(yy, 400) - 32045
}

// julianJDN is the Julian day number of a Julian calendar date.
func julianJDN(y, m, d int64) int64 {
	a := (14 - m) / 12
	yy := y + 4800 - a
	mm := m + 12*a - 3
	return d + (153*mm+2)/5 + 365*yy + floorDiv(yy, 4) - 32083
}

func gregorianFromJDN(j int64) (y, m, d int64) {
	a := j + 32044
	b := floorDiv(4*a+3, 146097)
	c := a - floorDiv(146097*b, 4)
	dd := floorDiv(4*c+3, 1461)
	e := c - floorDiv(1461*dd, 4)
	mm := floorDiv(5*e+2, 153)
	d = e - floorDiv(153*mm+2, 5) + 1
	m = mm + 3 - 12*floorDiv(mm, 10)
	y = 100*b + dd - 4800 + floorDiv(mm, 10)
	return
}

func julianFromJDN(j int64) (y, m, d int64) {
	c := j + 32082
	dd := floorDiv(4*c+3, 1461)
	e := c - floorDiv(1461*dd, 4)
	mm := floorDiv(5*e+2, 153)
	d = e - floorDiv(153*mm+2, 5) + 1
	m = mm + 3 - 12*floorDiv(mm, 10)
	y = dd - 4800 + floorDiv(mm, 10)
	return
}

// gregorianStartJDN is 1582-10-15, the first day of the Gregorian calendar
// in the standard calendar.
const gregorianStartJDN = 2299161

// Instant returns the instant of t in calendar c. Day numbers are Julian
// day numbers for standard, proleptic_gregorian and julian, and a count
// from year 0 for the model calendars.
func (c Calendar) Instant(t Time) (Instant, error) {
	if t.Month < 1 || t.Month > 12 || t.Day < 1 || t.Day > c.MonthDays(t.Year, t.Month) ||
		t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 60 ||
		t.Nanosecond < 0 || t.Nanosecond >= 1e9 {
		return Instant{}, fmt.Errorf("%w: %s has no date %04d-%02d-%02d %02d:%02d:%02d", ErrCalendar, c, t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second)
	}
	y, m, d := int64(t.Year), int64(t.Month), int64(t.Day)
	var day int64
	switch c {
	case Day360:
		day = 360*y + 30*(m-1) + d - 1
	case NoLeap:
		day = 365*y + int64(cumDays[m-1]) + d - 1
	case AllLeap:
		day = 366*y + int64(cumDaysLeap[m-1]) + d - 1
	case Julian:
		day = julianJDN(y, m, d)
	case ProlepticGregorian:
		day = gregorianJDN(y, m, d)
	default:
		day = gregorianJDN(y, m, d)
		if day < gregorianStartJDN {
			day = julianJDN(y, m, d)
			if day >= gregorianStartJDN {
				return Instant{}, fmt.Errorf("%w: %04d-%02d-%02d is in the gap between the Julian and Gregorian calendars", ErrCalendar, y, m, d)
			}
		}
	}
	ns := int64(t.Hour)*3600e9 + int64(t.Minute)*60e9 + int64(t.Second)*1e9 + int64(t.Nanosecond)
	return Instant{Day: day, Ns: ns}.norm(), nil
}

// Date returns the date and time of an instant of calendar c.
func (c Calendar) Date(in Instant) Time {
	in = in.norm()
	var y, m, d int64
	day := in.Day
	switch c {
	case Day360:
		y = floorDiv(day, 360)
		r := day - 360*y
		m, d = r/30+1, r%30+1
	case NoLeap, AllLeap:
		n, cum := int64(365), cumDays
		if c == AllLeap {
			n, cum = 366, cumDaysLeap
		}
		y = floorDiv(day, n)
		r := int(day - n*y)
		m = 1
		for int(m) < 12 && r >= cum[m] {
			m++
		}
		d = int64(r-cum[m-1]) + 1
	case Julian:
		y, m, d = julianFromJDN(day)
	case ProlepticGregorian:
		y, m, d = gregorianFromJDN(day)
	default:
		if day >= gregorianStartJDN {
			y, m, d = gregorianFromJDN(day)
		} else {
			y, m, d = julianFromJDN(day)
		}
	}
	ns := in.Ns
	return Time{Year: int(y), Month: int(m), Day: int(d),
		Hour: int(ns / 3600e9), Minute: int(ns / 60e9 % 60), Second: int(ns / 1e9 % 60), Nanosecond: int(ns % 1e9)}
}

// AddMonths returns t moved by n calendar months (negative: back), on the
// same day of the month or, when the month is shorter, its last day; the
// time of day is kept.
func (c Calendar) AddMonths(t Time, n int64) Time {
	mi := int64(t.Year)*12 + int64(t.Month-1) + n
	y := floorDiv(mi, 12)
	t.Year, t.Month = int(y), int(mi-12*y)+1
	t.Day = min(t.Day, c.MonthDays(t.Year, t.Month))
	return t
}

// Convert returns the instant of calendar to with the same date and time
// as instant in of calendar c (an error when to has no such date).
func (c Calendar) Convert(in Instant, to Calendar) (Instant, error) {
	if c == to {
		return in, nil
	}
	return to.Instant(c.Date(in))
}

// Units are parsed CF time units in a calendar.
type Units struct {
	// Text is the units attribute as given.
	Text string
	// Unit is the length of one unit in nanoseconds.
	Unit int64
	// Epoch is the reference instant (in UTC).
	Epoch    Instant
	Calendar Calendar
}

var unitNs = map[string]int64{
	"days": 86400e9, "day": 86400e9, "d": 86400e9,
	"hours": 3600e9, "hour": 3600e9, "hrs": 3600e9, "hr": 3600e9, "h": 3600e9,
	"minutes": 60e9, "minute": 60e9, "mins": 60e9, "min": 60e9,
	"seconds": 1e9, "second": 1e9, "secs": 1e9, "sec": 1e9, "s": 1e9,
	"milliseconds": 1e6, "millisecond": 1e6, "msecs": 1e6, "msec": 1e6, "ms": 1e6,
	"microseconds": 1e3, "microsecond": 1e3, "usecs": 1e3, "usec": 1e3, "us": 1e3,
	"nanoseconds": 1, "nanosecond": 1, "ns": 1,
}

var (
	sinceRE = regexp.MustCompile(`(?i)^\s*([a-z]+)\s+since\s+(.+?)\s*$`)
	dateRE  = regexp.MustCompile(`(?i)^([+-]?\d{1,6})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?$`)
)

// IsTimeUnits reports whether units look like CF time units ("<unit>
// since <date>") that ParseUnits reads.
func IsTimeUnits(units string) bool {
	m := sinceRE.FindStringSubmatch(units)
	if m == nil {
		return false
	}
	_, ok := unitNs[strings.ToLower(m[1])]
	return ok
}

// ParseUnits parses CF time units in a calendar.
func ParseUnits(units string, cal Calendar) (*Units, error) {
	m := sinceRE.FindStringSubmatch(units)
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnits, units)
	}
	ns, ok := unitNs[strings.ToLower(m[1])]
	if !ok {
		return nil, fmt.Errorf("%w: %q: unit %q (want days, hours, minutes, seconds, milliseconds, microseconds or nanoseconds)", ErrUnits, units, m[1])
	}
	d := dateRE.FindStringSubmatch(m[2])
	if d == nil {
		return nil, fmt.Errorf("%w: %q: cannot read the reference date %q", ErrUnits, units, m[2])
	}
	atoi := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	t := Time{Year: atoi(d[1]), Month: atoi(d[2]), Day: atoi(d[3]), Hour: atoi(d[4]), Minute: atoi(d[5]), Second: atoi(d[6])}
	if f := d[7]; f != "" {
		for len(f) < 9 {
			f += "0"
		}
		t.Nanosecond = atoi(f[:9])
	}
	epoch, err := cal.Instant(t)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", units, err)
	}
	if tz := strings.ToUpper(d[8]); tz != "" && tz != "Z" && tz != "UTC" && tz != "GMT" {
		sign := int64(1)
		if tz[0] == '-' {
			sign = -1
		}
		tz = strings.ReplaceAll(tz[1:], ":", "")
		var hh, mm int
		if len(tz) <= 2 {
			hh = atoi(tz)
		} else {
			hh, mm = atoi(tz[:len(tz)-2]), atoi(tz[len(tz)-2:])
		}
		// Local time = UTC + offset, so UTC = local - offset.
		epoch.Ns -= sign * (int64(hh)*3600e9 + int64(mm)*60e9)
		epoch = epoch.norm()
	}
	return &Units{Text: units, Unit: ns, Epoch: epoch, Calendar: cal}, nil
}

// Decode returns the instant that value v means, as xarray decodes it:
// the offset v*unit truncated to whole nanoseconds (pandas, for the
// standard and proleptic_gregorian calendars) or rounded half to even to
// whole microseconds (cftime, for the others, and when the offset does not
// fit in int64 nanoseconds). Integral values are exact. NaN and
// infinities are errors.
func (u *Units) Decode(v float64) (Instant, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Instant{}, fmt.Errorf("%w: %v", ErrInexact, v)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
		w := int64(v)
		perDay := nsPerDay / u.Unit
		days := floorDiv(w, perDay)
		ns := (w - days*perDay) * u.Unit
		return Instant{Day: u.Epoch.Day + days, Ns: u.Epoch.Ns + ns}.norm(), nil
	}
	if !u.Calendar.usesCFTime() {
		if x := v * float64(u.Unit); math.Abs(x) < 9.2e18 {
			t := int64(x)
			d := floorDiv(t, nsPerDay)
			return Instant{Day: u.Epoch.Day + d, Ns: u.Epoch.Ns + t - d*nsPerDay}.norm(), nil
		}
	}
	us := math.RoundToEven(v * float64(u.Unit) / 1e3)
	if math.Abs(us) >= 9.2e18 {
		return Instant{}, fmt.Errorf("%w: %v %s is out of range", ErrInexact, v, u.Text)
	}
	t := int64(us)
	const usPerDay = nsPerDay / 1000
	d := floorDiv(t, usPerDay)
	return Instant{Day: u.Epoch.Day + d, Ns: u.Epoch.Ns + (t-d*usPerDay)*1000}.norm(), nil
}

// Encode returns the value of instant in in units u: the float64 that
// Decode turns back into exactly in (searching the neighbouring floats when
// the plain quotient does not), or ErrInexact.
func (u *Units) Encode(in Instant) (float64, error) {
	diff := Instant{Day: in.Day - u.Epoch.Day, Ns: in.Ns - u.Epoch.Ns}.norm()
	perDay := nsPerDay / u.Unit
	q, r := diff.Ns/u.Unit, diff.Ns%u.Unit
	var v float64
	if hi, lo := mul64(diff.Day, perDay); hi == 0 || hi == -1 && lo < 0 {
		whole := lo + q
		v = float64(whole) + float64(r)/float64(u.Unit)
	} else {
		v = float64(diff.Day)*float64(perDay) + float64(q) + float64(r)/float64(u.Unit)
	}
	if got, err := u.Decode(v); err == nil && got == in {
		return v, nil
	}
	// Search the floats around v: the quotient may be one of several
	// nearby floats, only some of which decode back exactly.
	up, down := v, v
	for i := 0; i < 64; i++ {
		up = math.Nextafter(up, math.Inf(1))
		if got, err := u.Decode(up); err == nil && got == in {
			return up, nil
		}
		down = math.Nextafter(down, math.Inf(-1))
		if got, err := u.Decode(down); err == nil && got == in {
			return down, nil
		}
	}
	return v, fmt.Errorf("%w: %s in %q", ErrInexact, u.Calendar.Date(in).ISO(), u.Text)
}

// mul64 returns the 128-bit product a*b as (hi, lo) with lo's bits
// unsigned; hi is 0 (or -1 for negative products) when it fits in int64.
func mul64(a, b int64) (hi int64, lo int64) {
	p := a * b
	if a != 0 && (p/a != b || (a == -1 && b == math.MinInt64)) {
		return 1, p
	}
	if p < 0 {
		return -1, p
	}
	return 0, p
}

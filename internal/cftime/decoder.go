package cftime

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Decoder decodes time values whose units may also count weeks, calendar
// months or years ("months since 2000-01-15", "years since 1850-07-01"),
// which some files use although CF advises against them: a week is 7
// days; months and years are whole calendar months from the reference
// date (AddMonths), except in the 360-day calendar, where they have fixed
// lengths of 30 and 360 days. Other units decode as Units.Decode does.
type Decoder struct {
	// Units are the parsed units; in days for weeks, months and years.
	Units *Units
	// scale converts a value to Units' unit: 7 for weeks, 30 and 360 for
	// months and years of the 360-day calendar, else 1.
	scale float64
	// months is 1 ("months") or 12 ("years") for calendar arithmetic
	// from the epoch, else 0.
	months int
}

// calendarSinceRE splits "<unit> since <date>", units such as
// "common_years" included.
var calendarSinceRE = regexp.MustCompile(`(?i)^\s*([a-z_]+)\s+since\s+(.+?)\s*$`)

// NewDecoder parses units ("<unit> since <date>") in calendar cal.
// Errors wrap ErrUnits or ErrCalendar.
func NewDecoder(units string, cal Calendar) (*Decoder, error) {
	m := calendarSinceRE.FindStringSubmatch(units)
	if m == nil {
		return nil, fmt.Errorf("%w: %q is not \"<unit> since <date>\"", ErrUnits, units)
	}
	d := &Decoder{scale: 1}
	unit := strings.ToLower(m[1])
	switch unit {
	case "weeks", "week":
		unit, d.scale = "days", 7
	case "months", "month":
		unit, d.months = "days", 1
	case "years", "year", "common_years", "common_year":
		unit, d.months = "days", 12
	}
	if cal == Day360 && d.months != 0 {
		d.scale, d.months = float64(d.months)*30, 0
	}
	u, err := ParseUnits(unit+" since "+m[2], cal)
	if err != nil {
		return nil, err
	}
	u.Text = units
	d.Units = u
	return d, nil
}

// UnitSeconds is the length of one unit in seconds; 0 for calendar months
// and years.
func (d *Decoder) UnitSeconds() float64 {
	if d.months != 0 {
		return 0
	}
	return float64(d.Units.Unit) / 1e9 * d.scale
}

// Decode turns a value into an instant of the calendar. Calendar months
// and years must come in whole months; NaN and infinities are errors
// (wrapping ErrInexact).
func (d *Decoder) Decode(v float64) (Instant, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Instant{}, fmt.Errorf("%w: value %v", ErrInexact, v)
	}
	if d.months == 0 {
		return d.Units.Decode(v * d.scale)
	}
	n := v * float64(d.months)
	if n != math.Trunc(n) || math.Abs(n) > 1e7 {
		return Instant{}, fmt.Errorf("%w: %v months is not a whole number of months", ErrInexact, n)
	}
	cal := d.Units.Calendar
	return cal.Instant(cal.AddMonths(cal.Date(d.Units.Epoch), int64(n)))
}

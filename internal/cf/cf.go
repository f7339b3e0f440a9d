// Package cf holds the CF-convention vocabularies vzarr's readers share:
// the units that mark longitude and latitude coordinates (CF 1.11, §4.1
// and §4.2, with the spellings udunits accepts).
package cf

import "strings"

var (
	lonUnits = map[string]bool{"degrees_east": true, "degree_east": true, "degree_e": true, "degrees_e": true, "degreee": true, "degreese": true}
	latUnits = map[string]bool{"degrees_north": true, "degree_north": true, "degree_n": true, "degrees_n": true, "degreen": true, "degreesn": true}
)

// IsLonUnits reports units that mark a longitude coordinate
// ("degrees_east" and its variants; case-insensitive).
func IsLonUnits(units string) bool { return lonUnits[strings.ToLower(strings.TrimSpace(units))] }

// IsLatUnits reports units that mark a latitude coordinate
// ("degrees_north" and its variants; case-insensitive).
func IsLatUnits(units string) bool { return latUnits[strings.ToLower(strings.TrimSpace(units))] }

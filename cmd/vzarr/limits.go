package main

import (
	"strconv"

	"github.com/greensight/vzarr/limits"
)

// limitValue is a flag.Value setting one limit; it accepts what
// limits.ParseValue does ("50000000", "50M", "5e7", -1).
type limitValue struct{ p *int64 }

func (v limitValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v limitValue) Set(s string) error {
	n, err := limits.ParseValue(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// addLimits registers the --limit-NAME flags of the commands that read
// files and references, one per field of limits.Limits, and returns the
// limits they set. Their defaults are the VZARR_LIMIT_NAME variables, else
// limits.Default(); -1 turns a limit off. parse reports an unparsable
// VZARR_LIMIT_* variable as a usage error.
func (f *cmdFlags) addLimits() *limits.Limits {
	lim, err := limits.Default().FromEnv(nil)
	f.limitErr = err
	for _, name := range limits.Names() {
		f.Var(limitValue{lim.Field(name)}, "limit-"+name,
			"most "+limits.Describe(name)+" a file may declare (env "+limits.EnvName(name)+"; -1: no limit)")
	}
	return &lim
}

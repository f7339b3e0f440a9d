package main

import (
	"flag"
	"strconv"

	"github.com/greensight/vzarr/limits"
)

// limitFlags are the --limit-NAME flags of the commands that read files
// and references (inspect, ref, combine, run, stac): one per field of
// limits.Limits. Their defaults are the VZARR_LIMIT_NAME variables, else
// limits.Default(); -1 turns a limit off.
type limitFlags struct {
	lim    limits.Limits
	envErr error
}

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

// addLimitFlags registers the --limit-* flags on fs.
func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	lf := &limitFlags{}
	lf.lim, lf.envErr = limits.Default().FromEnv(nil)
	for _, name := range limits.Names() {
		fs.Var(limitValue{lf.lim.Field(name)}, "limit-"+name,
			"most "+limits.Describe(name)+" a file may declare (env "+limits.EnvName(name)+"; -1: no limit)")
	}
	return lf
}

// limits returns the limits set by the environment and the flags; an
// unparsable VZARR_LIMIT_* variable is a usage error.
func (lf *limitFlags) limits() (limits.Limits, error) {
	if lf.envErr != nil {
		return lf.lim, usagef("%v", lf.envErr)
	}
	return lf.lim, nil
}

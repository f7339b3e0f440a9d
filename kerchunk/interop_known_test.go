package kerchunk

import "github.com/greensight/vzarr/internal/testenv"

// knownFailure is one error the checker reports on one reader stack for a
// reason listed in issue 13, until a fix lands. TestInteropCheckRefs
// enforces the table both ways: an error no entry (or tolerated limit)
// matches fails the test, and so does an entry that matches no error of its
// stack's run (the case now passes: delete the entry).
type knownFailure struct {
	Stack  string // testenv.StackDebian12 or testenv.StackTrixie
	Case   string // fixture or real-world file name
	Match  string // substring of the checker's error line; names the variable
	Reason string // why the stack reads something else
	Item   string // the issue 13 item that fixes it
}

// knownFailures is the baseline of the trixie stack (xarray 2025.3,
// zarr-python 3.0.6, fsspec 2025.3) and of Debian 12's.
var knownFailures = []knownFailure{}

// knownFor returns the known failures of one stack.
func knownFor(stack string) []knownFailure {
	var out []knownFailure
	for _, k := range knownFailures {
		if k.Stack == stack {
			out = append(out, k)
		}
	}
	return out
}

var _ = testenv.StackTrixie

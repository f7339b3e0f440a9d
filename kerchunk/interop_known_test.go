package kerchunk

import "regexp"

// failureCause is one reason a reader stack reads a reference differently
// from the original, recognised by the checker error lines it produces.
type failureCause struct {
	// Errors matches every error line the cause produces, and no other.
	Errors *regexp.Regexp
	// Reason says why the stack reads something else.
	Reason string
	// Item names the issue 13 item that fixes it.
	Item string
}

// No cause is open: the last one (zarr-python 3.0.6 refusing a Zarr v2
// structured dtype with a nested compound member, written as a list of
// lists) ended when structured members became NumPy's dict form, which
// zarr-python 2 and 3 both hand to NumPy unchanged (zarr.DType.JSON).

// knownFailure is one failure of one case on one reader stack, with its
// cause, until the issue 13 item lands. TestInteropCheckRefs enforces the
// table both ways: an error line that no entry's cause (nor a tolerated
// limit in caseAllowed/anyCaseAllowed) matches fails the test, and so does
// an entry whose cause matches no error of its case on its stack (the case
// now reads correctly there: delete the entry).
type knownFailure struct {
	Stack string // testenv.StackDebian12 or testenv.StackTrixie
	Case  string // fixture or real-world file name
	Cause *failureCause
}

// knownFailures is the baseline of failures still expected, per stack:
// empty, every case reads correctly on both stacks up to the tolerated
// limits (caseAllowed, anyCaseAllowed). A new entry needs a failureCause.
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

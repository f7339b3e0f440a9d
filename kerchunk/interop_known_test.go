package kerchunk

import (
	"regexp"

	"github.com/greensight/vzarr/internal/testenv"
)

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

// The causes seen on the trixie stack (xarray 2025.3.1, zarr-python 3.0.6,
// fsspec 2025.3.2, numcodecs 0.16) with the references of today.
var (
	// zarr-python 3.0.6 turns the fields of a Zarr v2 structured dtype
	// from JSON lists into tuples only at the top level: a compound member
	// that is itself a compound ([["id", "<i4"], ["where", [["lat", "<f4"],
	// ...]]]) reaches numpy as lists, which numpy refuses, and the whole
	// reference set fails to open, at both levels. Flat compounds open
	// (h5py's complex r/i compounds are Zarr complex dtypes). Since every set carries
	// consolidated metadata, a nested compound in a group (layout/...,
	// typ/...) fails the root too: zarr-python 3 parses every array of
	// .zmetadata when it opens the root.
	causeStructuredDtype = &failureCause{
		Errors: regexp.MustCompile(`^(xr: cannot open refs \(group '[^']*'\)|raw: cannot open refs with zarr): TypeError: Field elements must be 2- or 3-tuples`),
		Reason: "zarr-python 3.0.6 cannot parse a Zarr v2 structured dtype with a nested compound member: the file does not open",
		Item:   "Compound types",
	}
)

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

// knownFailures is the baseline of the trixie stack. Debian 12's stack
// has no entry: every failure there is a tolerated limit (caseAllowed).
var knownFailures = []knownFailure{
	{testenv.StackTrixie, "h5_earliest_layouts.h5", causeStructuredDtype},
	{testenv.StackTrixie, "h5_earliest_types.h5", causeStructuredDtype},
	{testenv.StackTrixie, "h5_latest_layouts.h5", causeStructuredDtype},
	{testenv.StackTrixie, "h5_latest_types.h5", causeStructuredDtype},
	{testenv.StackTrixie, "h5_sohm_btree.h5", causeStructuredDtype},
	{testenv.StackTrixie, "h5_sohm_list.h5", causeStructuredDtype},
	{testenv.StackTrixie, "nc4_types.nc", causeStructuredDtype},
}

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

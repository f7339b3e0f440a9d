//go:build !linux

package main

import "errors"

// exchangeDirs is not available here: swapDirs renames in two steps.
func exchangeDirs(a, b string) error {
	return errors.New("no atomic directory exchange on this system")
}

//go:build !linux

package blobio

// syncFiles makes the data of a group of written files durable, one
// fsync each.
func syncFiles(group []*pendingFile) { syncEach(group) }

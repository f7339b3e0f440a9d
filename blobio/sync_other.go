//go:build !linux

package blobio

// syncFiles makes the data of a group of written files durable (syncEach).
func syncFiles(group []*pendingFile) { syncEach(group) }

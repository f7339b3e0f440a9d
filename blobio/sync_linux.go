package blobio

import "golang.org/x/sys/unix"

// syncfsGroup is the smallest group whose data syncFiles syncs with one
// syncfs per file system: syncfs also flushes whatever else the file
// system holds dirty, which pays only when it replaces many fsyncs.
const syncfsGroup = 8

// syncFiles makes the data of a group of written files durable: a large
// group with one syncfs per file system (about the cost of one fsync
// however many files it holds), a small one with syncEach. A file whose
// sync failed gets the error.
func syncFiles(group []*pendingFile) {
	if len(group) < syncfsGroup {
		syncEach(group)
		return
	}
	done := map[uint64]error{} // file system (device) → syncfs's error
	for _, p := range group {
		var st unix.Stat_t
		if err := unix.Fstat(int(p.f.Fd()), &st); err != nil {
			p.err = err
			continue
		}
		err, ok := done[st.Dev]
		if !ok {
			err = unix.Syncfs(int(p.f.Fd()))
			done[st.Dev] = err
		}
		p.err = err
	}
}

package blobio

import "golang.org/x/sys/unix"

// syncFiles makes the data of a group of written files durable: one file
// alone is synced (fdatasync), a larger group with one syncfs per file
// system, which costs about as much as one fsync however many files the
// group holds. A file whose sync failed gets the error.
func syncFiles(group []*pendingFile) {
	if len(group) == 1 {
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

package blobio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sync"

	"gocloud.dev/blob"
)

// WriteAtomic writes the object at rawURL with what write writes: readers
// see either the old object (or none) or the whole new one, never a part.
// An existing object is replaced (writing the same bytes twice is harmless).
//
// If write returns an error (or panics), or ctx ends, nothing is committed:
// the blob writer's context is canceled before it is closed, so Azure never
// commits the staged blocks, and a local file's temporary sibling is
// removed. Local files are written to a temporary file in the same
// directory (created if missing), synced and renamed over the target;
// concurrent writes share their syncs (one data sync and one directory
// sync per group of files written at the same time, see committer), and
// WriteAtomic returns once the rename is durable.
// The content type is taken from the key's extension (.json:
// application/json), else application/octet-stream.
func (o *Opener) WriteAtomic(ctx context.Context, rawURL string, write func(w io.Writer) error) error {
	loc, err := o.Parse(rawURL)
	if err != nil {
		return wrap(ctx, "write", rawURL, err)
	}
	if loc.Key == "" || loc.Key[len(loc.Key)-1] == '/' {
		return &Error{Op: "write", URL: rawURL, Kind: ErrInvalidArgument, Err: errors.New("the URL names a directory, not an object")}
	}
	if loc.IsLocal() {
		if err := writeLocalAtomic(ctx, loc.Path(), write); err != nil {
			return wrap(ctx, "write", rawURL, err)
		}
		o.logger().DebugContext(ctx, "blobio: wrote", "url", rawURL)
		return nil
	}
	b, err := o.OpenLocation(ctx, loc)
	if err != nil {
		return wrap(ctx, "write", rawURL, err)
	}
	defer b.Close()
	if err := writeBlobAtomic(ctx, b, loc.Key, write); err != nil {
		return o.explain(loc, wrap(ctx, "write", rawURL, err))
	}
	o.logger().DebugContext(ctx, "blobio: wrote", "url", rawURL)
	return nil
}

// writeFuncError marks an error returned by the caller's write function, so
// that it is not mistaken for a storage error.
type writeFuncError struct{ err error }

func (e writeFuncError) Error() string { return e.err.Error() }
func (e writeFuncError) Unwrap() error { return e.err }

func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// uploadError marks the error with which a failed upload closed the pipe,
// so that a write function that fails on it reports the storage error.
type uploadError struct{ err error }

func (e uploadError) Error() string { return e.err.Error() }
func (e uploadError) Unwrap() error { return e.err }

var errAborted = errors.New("blobio: write aborted")

// writeBlobAtomic streams what write writes to an upload through a pipe.
// The upload commits only when it reads the end of the pipe; to abort, the
// upload's context is canceled first and the pipe closed with an error
// after, so that no driver can mistake the abort for the end of the data.
// (bucket.Upload rather than Writer.Write: gocloud.dev's azureblob writer
// can panic in Close after a failed streaming upload.)
func writeBlobAtomic(ctx context.Context, b *blob.Bucket, key string, write func(io.Writer) error) (err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := b.Upload(wctx, key, pr, &blob.WriterOptions{ContentType: contentType(key)})
		if err != nil {
			pr.CloseWithError(uploadError{err}) // a blocked Write returns
		} else {
			pr.Close()
		}
		done <- err
	}()
	abort := func(cause error) error {
		cancel()
		pw.CloseWithError(cause)
		return <-done
	}
	finished := false
	defer func() {
		if !finished { // write panicked
			_ = abort(errAborted)
		}
	}()
	werr := write(pw)
	finished = true
	if werr != nil {
		uerr := abort(werr)
		var ue uploadError
		if errors.As(werr, &ue) && uerr != nil {
			return uerr // the upload failed first; write only saw that
		}
		return writeFuncError{werr}
	}
	if err := ctx.Err(); err != nil {
		_ = abort(err)
		return err
	}
	pw.Close()
	return <-done
}

// localBufferSize is the write buffer of a local file: large enough that
// a reference file goes out in a few writes, small enough that allocating
// it for each of many small files costs nothing.
const localBufferSize = 64 << 10

func writeLocalAtomic(ctx context.Context, target string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, localBufferSize)
	if err := write(bw); err != nil {
		return writeFuncError{err}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	committed = true // the committer closes, renames or removes it
	return localCommits.commit(&pendingFile{f: f, tmp: tmp, target: target, dir: dir})
}

// pendingFile is a written temporary file waiting to be renamed over its
// target.
type pendingFile struct {
	f           *os.File
	tmp, target string
	dir         string
	err         error
	done        chan struct{}
}

// committer makes local writes durable in groups (group commit): the
// files written while one group is being committed form the next group.
// A group is committed in three steps, each once per group rather than
// once per file: the files' data is synced (syncFiles: one syncfs per
// file system for a large group on Linux, else the files' syncs at once),
// every file is renamed over its target, and each directory that received
// a file is synced once. A file is renamed only after
// its data is durable, so a crash leaves the old object or the whole new
// one; commit returns once the rename is durable.
type committer struct {
	mu      sync.Mutex
	queue   []*pendingFile
	running bool
}

var localCommits committer

// commit adds p to the next group and waits until that group is
// committed.
func (c *committer) commit(p *pendingFile) error {
	p.done = make(chan struct{})
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if !c.running {
		c.running = true
		go c.loop()
	}
	c.mu.Unlock()
	<-p.done
	return p.err
}

// loop commits groups until none waits.
func (c *committer) loop() {
	for {
		c.mu.Lock()
		group := c.queue
		c.queue = nil
		if len(group) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		commitGroup(group)
	}
}

// commitGroup syncs the data of a group of files, renames them over their
// targets and syncs their directories; each file's err says how it went.
func commitGroup(group []*pendingFile) {
	defer func() {
		for _, p := range group {
			if p.err != nil {
				_ = os.Remove(p.tmp)
			}
			close(p.done)
		}
	}()
	syncFiles(group)
	dirs := map[string]bool{}
	for _, p := range group {
		if err := p.f.Close(); err != nil && p.err == nil {
			p.err = err
		}
		if p.err != nil {
			continue
		}
		if err := os.Rename(p.tmp, p.target); err != nil {
			p.err = fmt.Errorf("rename into place: %w", err)
			continue
		}
		dirs[p.dir] = true
	}
	for dir := range dirs { // make the renames durable; best effort
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
}

// syncEach makes the data of a group of written files durable, each file
// synced (fdatasync) at the same time as the others, so that the file
// system commits them together (one journal commit on ext4/xfs rather
// than one per file). A file whose sync failed gets the error.
func syncEach(group []*pendingFile) {
	if len(group) == 1 {
		group[0].err = group[0].f.Sync()
		return
	}
	var wg sync.WaitGroup
	for _, p := range group {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.err = p.f.Sync()
		}()
	}
	wg.Wait()
}

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
// directory (created if missing), synced and renamed over the target.
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
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return writeFuncError{err}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	renamed = true
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

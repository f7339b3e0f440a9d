package combine

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/kerchunk"
	"github.com/greensight/vzarr/refstore"
)

// Source is one input of Combine: a reference set, loaded when Combine
// gets to it (a few at a time, so that memory follows the output, not the
// inputs).
type Source interface {
	// Name identifies the input in errors, logs and Result.SourceFiles.
	Name() string
	// Load returns the input's references.
	Load(ctx context.Context) (*kerchunk.Refs, error)
}

type memSource struct {
	name string
	refs *kerchunk.Refs
}

func (s memSource) Name() string                                 { return s.name }
func (s memSource) Load(context.Context) (*kerchunk.Refs, error) { return s.refs, nil }

// Refs is a Source of references already in memory.
func Refs(name string, refs *kerchunk.Refs) Source { return memSource{name, refs} }

// URLSource reads the object at a URL (anything blobio opens): a kerchunk
// reference set in either layout refstore loads (a JSON file, version 0 or
// 1, ours or Python kerchunk's; or a Parquet set, a folder or prefix), or
// a NetCDF/HDF5 source file, which is translated on the fly with
// Translate.
type URLSource struct {
	URL       string
	Opener    *blobio.Opener   // nil: blobio.NewOpenerFromEnv()
	Translate kerchunk.Options // options for source files; its Limits also bound reference files
	// Read, when set, is called with the object Load opened once it is
	// done reading it (before it is closed): callers count its requests
	// and bytes (its Stats) with it.
	Read func(obj *blobio.Object)
	// Heads, when set, holds heads of objects this process read or wrote
	// (such as the reference files of a pipeline's ref stage): Load opens
	// URL from its head when there is one, with no request for it (see
	// blobio.HeadCache), else as without it.
	Heads *blobio.HeadCache
}

// Name returns the URL.
func (s *URLSource) Name() string { return s.URL }

// Load reads or translates the object: a URL that names no object (a
// Parquet set), or an object that is JSON (its first non-blank byte is
// "{"), is loaded with refstore (a JSON file from the object opened to
// look at it); anything else is translated.
func (s *URLSource) Load(ctx context.Context) (*kerchunk.Refs, error) {
	o := s.Opener
	if o == nil {
		o = blobio.NewOpenerFromEnv()
	}
	store := &refstore.Store{Opener: o, Limits: s.Translate.Limits}
	obj, err := s.Heads.Open(ctx, o, s.URL, blobio.MetadataReaderOptions(0)...)
	if err != nil {
		return store.Load(ctx, s.URL)
	}
	defer obj.Close()
	if s.Read != nil {
		defer s.Read(obj)
	}
	head := make([]byte, min(obj.Size(), 64))
	if _, err := obj.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", s.URL, err)
	}
	if t := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		// The open object already holds its first read: no second open.
		return store.LoadObject(obj)
	}
	opts := s.Translate
	if opts.Name == "" {
		opts.Name = s.URL
	}
	res, err := kerchunk.Translate(ctx, obj.Reader, obj.Size(), obj.RefURL, opts)
	if err != nil {
		return nil, err
	}
	return res.Refs, nil
}

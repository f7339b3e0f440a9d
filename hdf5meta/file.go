package hdf5meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/greensight/vzarr/limits"
	"github.com/greensight/vzarr/rangeio"
)

// File is an open HDF5 file. Its methods are safe for concurrent use.
type File struct {
	r       io.ReaderAt
	pf      rangeio.Prefetcher    // r, when it can prefetch
	stats   rangeio.StatsReporter // what counts the requests to r
	size    int64
	base    int64 // absolute file offset of HDF5 address 0 (the userblock size)
	offSize int
	lenSize int
	opts    options

	Superblock Superblock

	sohm *sharedMessageTable // nil unless the file shares object header messages

	mu      sync.Mutex
	headers map[uint64]*objectHeader // parsed object headers by address
	gheaps  map[uint64]*globalHeap   // parsed global heap collections

	metaBytes atomic.Int64 // bytes of metadata the parser asked for
	budget    atomic.Int64 // what objects built from the file may still take; see limits.go
}

// ReadStats reports how a File read its input.
type ReadStats struct {
	// Requests and Bytes count the calls to the io.ReaderAt given to Open
	// and the bytes they returned.
	Requests int64
	Bytes    int64
	// MetadataBytes is the total size of the metadata structures parsed
	// (a structure read twice counts twice).
	MetadataBytes int64
}

// Stats returns the read counters, for logs and benchmarks.
func (f *File) Stats() ReadStats {
	st := f.stats.Stats()
	return ReadStats{Requests: st.Requests, Bytes: st.Bytes, MetadataBytes: f.metaBytes.Load()}
}

// prefetch asks the cache to fetch ranges (HDF5 addresses and lengths) in
// few concurrent requests, before they are parsed one by one.
func (f *File) prefetch(ranges []rangeio.Range) {
	if len(ranges) == 0 {
		return
	}
	for i := range ranges {
		ranges[i].Off += f.base
	}
	if f.pf == nil {
		return // a plain io.ReaderAt: the ranges are read as they are parsed
	}
	// Errors surface again, with context, when the ranges are parsed.
	_ = f.pf.Prefetch(context.Background(), ranges)
}

// Superblock holds the fields of the HDF5 superblock this package uses.
type Superblock struct {
	Version         int
	Offset          int64  // file offset of the signature (the userblock size)
	BaseAddress     uint64 // absolute offset that HDF5 addresses are relative to
	SizeOfOffsets   int
	SizeOfLengths   int
	EOFAddress      uint64
	RootAddress     uint64 // object header of the root group
	ExtensionAddr   uint64 // superblock extension object header, or undefined
	GroupLeafK      int
	GroupInternalK  int
	IndexedStorageK int
}

// Option configures Open.
type Option func(*options)

type options struct {
	maxDepth     int // group nesting depth limit for walks
	limits       limits.Limits
	verifyChksum bool
}

// WithMaxDepth limits how deep Walk descends into nested groups (default 256).
func WithMaxDepth(n int) Option { return func(o *options) { o.maxDepth = n } }

// WithLimits sets the limits on what the file's metadata may make the
// reader allocate: the size of one attribute's value (Limits.AttrBytes),
// of one string (Limits.StringBytes) and the group nesting depth of walks
// (Limits.Depth, unless WithMaxDepth comes later). Zero fields take the
// defaults of package limits. Exceeding one fails with a *limits.Error.
func WithLimits(l limits.Limits) Option {
	return func(o *options) {
		o.limits = l.WithDefaults()
		if o.limits.Depth > 0 {
			o.maxDepth = int(min(o.limits.Depth, 1<<20))
		}
	}
}

// WithoutChecksums skips verification of metadata checksums. Checksums are
// verified by default; turning them off only helps to salvage damaged files.
func WithoutChecksums() Option { return func(o *options) { o.verifyChksum = false } }

var signature = []byte("\x89HDF\r\n\x1a\n")

// Open reads the superblock of the HDF5 file in r and returns a File that
// reads the rest of the metadata on demand. size is the file size in bytes.
// r is read as given: Open adds no cache. A caller reading slow storage
// passes a cached reader (blobio's objects, or rangeio.NewReader with
// blobio.MetadataReaderOptions); when r is a rangeio.Prefetcher, the parser asks
// it for the ranges it will read next.
func Open(r io.ReaderAt, size int64, opts ...Option) (*File, error) {
	f := &File{size: size, headers: map[uint64]*objectHeader{}}
	f.initBudget()
	f.opts = options{maxDepth: limits.DefaultDepth, verifyChksum: true, limits: limits.Default()}
	for _, o := range opts {
		o(&f.opts)
	}
	f.r = r
	f.pf, _ = r.(rangeio.Prefetcher)
	if sr, ok := r.(rangeio.StatsReporter); ok {
		f.stats = sr
	} else {
		c := rangeio.NewCountingReaderAt(r)
		f.r, f.stats = c, c
	}
	if size < int64(len(signature)) {
		return nil, truncatedErr(0, "file of %d bytes has no HDF5 superblock", size)
	}
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	if f.Superblock.ExtensionAddr != undefAddr {
		if err := f.readSuperblockExtension(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return f.size }

// AbsOffset converts an HDF5 address into an absolute file offset (HDF5
// addresses are relative to the base address, which a userblock moves).
func (f *File) AbsOffset(addr uint64) int64 { return f.base + int64(addr) }

// readAbs reads n bytes at absolute file offset off.
func (f *File) readAbs(off int64, n int, what string) ([]byte, error) {
	if n < 0 || off < 0 || off > f.size || int64(n) > f.size-off {
		return nil, truncatedErr(off, "%s of %d bytes extends past the end of the %d-byte file", what, n, f.size)
	}
	f.metaBytes.Add(int64(n))
	buf := make([]byte, n)
	if _, err := f.r.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, truncatedErr(off, "%s: %v", what, err)
		}
		return nil, fmt.Errorf("hdf5meta: reading %s at offset %d: %w", what, off, err)
	}
	return buf, nil
}

// read reads n bytes at HDF5 address addr.
func (f *File) read(addr uint64, n int, what string) ([]byte, error) {
	if addr == undefAddr || addr > uint64(f.size) {
		return nil, formatErr(int64(min(addr, uint64(1<<62))), "%s at invalid address %#x", what, addr)
	}
	return f.readAbs(f.AbsOffset(addr), n, what)
}

// readUpTo reads up to n bytes at addr, fewer when the file ends first. It
// serves structures whose length is only known after parsing them.
func (f *File) readUpTo(addr uint64, n int, what string) ([]byte, error) {
	if addr == undefAddr || addr > uint64(f.size) {
		return nil, formatErr(int64(min(addr, uint64(1<<62))), "%s at invalid address %#x", what, addr)
	}
	off := f.AbsOffset(addr)
	if off >= f.size {
		return nil, truncatedErr(off, "%s starts past the end of the file", what)
	}
	if rem := f.size - off; int64(n) > rem {
		n = int(rem)
	}
	return f.readAbs(off, n, what)
}

func (f *File) readSuperblock() error {
	// The superblock sits at 0, 512, 1024, 2048, ... (after a userblock).
	var off int64
	for off = 0; ; off = max(512, off*2) {
		if off+int64(len(signature)) > f.size {
			return formatErr(0, "no HDF5 signature found")
		}
		b, err := f.readAbs(off, len(signature), "superblock signature")
		if err != nil {
			return err
		}
		if string(b) == string(signature) {
			break
		}
	}
	sb := &f.Superblock
	sb.Offset = off
	hdr, err := f.readAbs(off, min(int(f.size-off), 128), "superblock")
	if err != nil {
		return err
	}
	d := &decoder{buf: hdr, base: off, what: "superblock"}
	d.skip(8)
	sb.Version = int(d.u8())
	switch sb.Version {
	case 0, 1:
		d.skip(4) // free-space, root group symbol table, reserved, shared header versions
		sb.SizeOfOffsets = int(d.u8())
		sb.SizeOfLengths = int(d.u8())
		d.skip(1)
		if err := f.setSizes(sb); err != nil {
			return err
		}
		d.offSize, d.lenSize = f.offSize, f.lenSize
		sb.GroupLeafK = int(d.u16())
		sb.GroupInternalK = int(d.u16())
		d.skip(4) // file consistency flags
		sb.IndexedStorageK = 32
		if sb.Version == 1 {
			sb.IndexedStorageK = int(d.u16())
			d.skip(2)
		}
		sb.BaseAddress = d.addr()
		d.addr() // free-space info (unused since 1.6)
		sb.EOFAddress = d.addr()
		d.addr() // driver info block
		// Root group symbol table entry.
		d.addr() // link name offset
		sb.RootAddress = d.addr()
		sb.ExtensionAddr = undefAddr
	case 2, 3:
		sb.SizeOfOffsets = int(d.u8())
		sb.SizeOfLengths = int(d.u8())
		if err := f.setSizes(sb); err != nil {
			return err
		}
		d.offSize, d.lenSize = f.offSize, f.lenSize
		d.skip(1) // consistency flags
		sb.BaseAddress = d.addr()
		sb.ExtensionAddr = d.addr()
		sb.EOFAddress = d.addr()
		sb.RootAddress = d.addr()
		// A file ending inside the checksum must not slice past hdr.
		if d.err == nil && d.remaining() < 4 {
			return truncatedErr(d.offset(), "superblock checksum: need 4 bytes, %d left", d.remaining())
		}
		if d.err == nil && f.opts.verifyChksum {
			if err := verifyChecksum(hdr[:d.pos+4], off, "superblock"); err != nil {
				return err
			}
		}
		d.skip(4)
	default:
		return unsupportedErr(off, "superblock version %d", sb.Version)
	}
	if d.err != nil {
		return d.err
	}
	// Like libhdf5, trust where the superblock was found over the stored
	// base address: files moved behind a userblock keep the old value.
	f.base = off
	// Like libhdf5, refuse a file shorter than the superblock says it is:
	// whatever is missing would surface later as dangling addresses.
	// (libhdf5 writes the end-of-file address counting the userblock.)
	if sb.EOFAddress != undefAddr && sb.EOFAddress > uint64(f.size) {
		return truncatedErr(off, "file is truncated: the superblock says %d bytes, the file has %d", sb.EOFAddress, f.size)
	}
	if sb.RootAddress == undefAddr {
		return formatErr(off, "superblock has no root group")
	}
	return nil
}

func (f *File) setSizes(sb *Superblock) error {
	okSize := func(n int) bool { return n == 2 || n == 4 || n == 8 }
	if !okSize(sb.SizeOfOffsets) || !okSize(sb.SizeOfLengths) {
		return formatErr(sb.Offset, "superblock sizes of offsets %d / lengths %d", sb.SizeOfOffsets, sb.SizeOfLengths)
	}
	f.offSize, f.lenSize = sb.SizeOfOffsets, sb.SizeOfLengths
	return nil
}

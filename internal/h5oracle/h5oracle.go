//go:build hdf5oracle

// Package h5oracle wraps the few libhdf5 (1.10+) calls that the hdf5meta
// oracle test needs and that gonum.org/v1/hdf5 does not expose: object
// visiting, the dataset layout class, H5Dget_offset, H5Dget_storage_size and
// the chunk queries H5Dget_num_chunks, H5Dget_chunk_info,
// H5Dget_chunk_info_by_coord, H5Dget_chunk_storage_size and H5Dread_chunk.
// Files and datasets are opened through gonum.
//
// The package is built only with the hdf5oracle build tag, so that a plain
// `go build ./...` or `go test ./...` never needs cgo or libhdf5. On Debian
// the headers and libraries live outside the default search paths:
//
//	CGO_CFLAGS=-I/usr/include/hdf5/serial
//	CGO_LDFLAGS=-L/usr/lib/x86_64-linux-gnu/hdf5/serial
//
// libhdf5 is not thread safe (the Debian serial build is compiled without
// the thread-safety option), so callers must not use this package from
// several goroutines at once.
package h5oracle

/*
#cgo LDFLAGS: -lhdf5
#include <stdlib.h>
#include <string.h>
#include "hdf5.h"

typedef struct {
	char   **names;
	haddr_t *addrs;
	size_t   n, cap;
	int      oom;
} oracle_visit_acc;

static herr_t oracle_visit_cb(hid_t obj, const char *name, const H5O_info_t *info, void *op) {
	oracle_visit_acc *acc = (oracle_visit_acc *)op;
	if (info->type != H5O_TYPE_DATASET)
		return 0;
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? 2 * acc->cap : 64;
		char **names = realloc(acc->names, cap * sizeof *names);
		if (names == NULL) { acc->oom = 1; return -1; }
		acc->names = names;
		haddr_t *addrs = realloc(acc->addrs, cap * sizeof *addrs);
		if (addrs == NULL) { acc->oom = 1; return -1; }
		acc->addrs = addrs;
		acc->cap = cap;
	}
	char *s = strdup(name);
	if (s == NULL) { acc->oom = 1; return -1; }
	acc->names[acc->n] = s;
	acc->addrs[acc->n] = info->addr;
	acc->n++;
	return 0;
}

// oracle_visit lists every dataset reachable from loc (each object once,
// under the first name H5Ovisit finds for it).
static herr_t oracle_visit(hid_t loc, oracle_visit_acc *acc) {
	return H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, oracle_visit_cb, acc, H5O_INFO_BASIC);
}

static void oracle_visit_free(oracle_visit_acc *acc) {
	for (size_t i = 0; i < acc->n; i++)
		free(acc->names[i]);
	free(acc->names);
	free(acc->addrs);
}

static int oracle_layout(hid_t dset) {
	hid_t dcpl = H5Dget_create_plist(dset);
	if (dcpl < 0)
		return -1;
	int l = (int)H5Pget_layout(dcpl);
	H5Pclose(dcpl);
	return l;
}

// oracle_external returns the number of external storage files of a
// dataset (H5Pget_external_count), or -1 on error.
static int oracle_external_count(hid_t dset) {
	hid_t dcpl = H5Dget_create_plist(dset);
	if (dcpl < 0)
		return -1;
	int n = H5Pget_external_count(dcpl);
	H5Pclose(dcpl);
	return n;
}

static herr_t oracle_external(hid_t dset, unsigned idx, size_t name_size, char *name, off_t *offset, hsize_t *size) {
	hid_t dcpl = H5Dget_create_plist(dset);
	if (dcpl < 0)
		return -1;
	herr_t rc = H5Pget_external(dcpl, idx, name_size, name, offset, size);
	H5Pclose(dcpl);
	return rc;
}

static haddr_t oracle_addr(hid_t obj) {
	H5O_info_t info;
	if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0)
		return HADDR_UNDEF;
	return info.addr;
}
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	"gonum.org/v1/hdf5"
)

// HaddrUndef is libhdf5's undefined address (HADDR_UNDEF).
const HaddrUndef = uint64(C.HADDR_UNDEF)

// Layout classes as H5Pget_layout returns them (H5D_layout_t).
const (
	Compact    = int(C.H5D_COMPACT)
	Contiguous = int(C.H5D_CONTIGUOUS)
	Chunked    = int(C.H5D_CHUNKED)
	Virtual    = int(C.H5D_VIRTUAL)
)

// Version returns the version of the libhdf5 linked in, e.g. "1.10.8".
func Version() string {
	v, err := hdf5.LibVersion()
	if err != nil {
		return "unknown"
	}
	return v.String()
}

// VersionAtLeast reports whether the libhdf5 linked in is at least
// major.minor.release.
func VersionAtLeast(major, minor, release uint) bool {
	v, err := hdf5.LibVersion()
	if err != nil {
		return false
	}
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Release >= release
}

// File is a file opened read-only by libhdf5.
type File struct {
	f *hdf5.File
}

// Open opens the HDF5 file at path read-only.
func Open(path string) (*File, error) {
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("libhdf5 cannot open %s: %w", path, err)
	}
	return &File{f: f}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Object is a dataset found by Datasets: its path (absolute, with a
// leading slash) and its object header address (relative to the base
// address, as libhdf5 reports it in H5O_info_t).
type Object struct {
	Path string
	Addr uint64
}

// Datasets lists every dataset in the file with H5Ovisit, which visits each
// object once however many hard links lead to it.
func (f *File) Datasets() ([]Object, error) {
	var acc C.oracle_visit_acc
	defer C.oracle_visit_free(&acc)
	if rc := C.oracle_visit(C.hid_t(f.f.ID()), &acc); rc < 0 {
		if acc.oom != 0 {
			return nil, fmt.Errorf("H5Ovisit: out of memory")
		}
		return nil, fmt.Errorf("H5Ovisit failed (%d)", int(rc))
	}
	n := int(acc.n)
	if n == 0 {
		return nil, nil
	}
	names := unsafe.Slice(acc.names, n)
	addrs := unsafe.Slice(acc.addrs, n)
	out := make([]Object, n)
	for i := range out {
		out[i] = Object{Path: "/" + C.GoString(names[i]), Addr: uint64(addrs[i])}
	}
	return out, nil
}

// Dataset is a dataset opened by libhdf5.
type Dataset struct {
	d     *hdf5.Dataset
	id    C.hid_t
	space C.hid_t // the dataset's file dataspace
	rank  int
}

// OpenDataset opens the dataset at an absolute path.
func (f *File) OpenDataset(path string) (*Dataset, error) {
	d, err := f.f.OpenDataset(path)
	if err != nil {
		return nil, fmt.Errorf("H5Dopen %s: %w", path, err)
	}
	id := C.hid_t(d.ID())
	space := C.H5Dget_space(id)
	if space < 0 {
		d.Close()
		return nil, fmt.Errorf("H5Dget_space %s failed", path)
	}
	rank := int(C.H5Sget_simple_extent_ndims(space))
	if rank < 0 {
		C.H5Sclose(space)
		d.Close()
		return nil, fmt.Errorf("H5Sget_simple_extent_ndims %s failed", path)
	}
	return &Dataset{d: d, id: id, space: space, rank: rank}, nil
}

// Close closes the dataset.
func (d *Dataset) Close() error {
	C.H5Sclose(d.space)
	return d.d.Close()
}

// Addr returns the address of the dataset's object header (H5Oget_info),
// relative to the base address; HADDR_UNDEF on error.
func (d *Dataset) Addr() uint64 { return uint64(C.oracle_addr(d.id)) }

// Rank is the number of dimensions of the dataset.
func (d *Dataset) Rank() int { return d.rank }

// Dims returns the current extent of the dataset.
func (d *Dataset) Dims() []uint64 {
	if d.rank == 0 {
		return nil
	}
	dims := make([]C.hsize_t, d.rank)
	C.H5Sget_simple_extent_dims(d.space, &dims[0], nil)
	out := make([]uint64, d.rank)
	for i, v := range dims {
		out[i] = uint64(v)
	}
	return out
}

// Layout returns the layout class (H5Pget_layout of the creation property
// list): Compact, Contiguous, Chunked or Virtual.
func (d *Dataset) Layout() (int, error) {
	l := int(C.oracle_layout(d.id))
	if l < 0 {
		return l, fmt.Errorf("H5Pget_layout failed (%d)", l)
	}
	return l, nil
}

// Offset returns H5Dget_offset: for a contiguous dataset the absolute file
// offset of its data, HADDR_UNDEF when no storage is allocated (or for other
// layouts).
func (d *Dataset) Offset() uint64 { return uint64(C.H5Dget_offset(d.id)) }

// StorageSize returns H5Dget_storage_size: the bytes allocated for the
// dataset's raw data (for chunked datasets, the sum of the stored chunks).
func (d *Dataset) StorageSize() uint64 { return uint64(C.H5Dget_storage_size(d.id)) }

// NumChunks returns H5Dget_num_chunks for the whole dataspace. (libhdf5
// 1.10 rejects H5S_ALL there, so the dataset's own dataspace is passed.)
func (d *Dataset) NumChunks() (uint64, error) {
	var n C.hsize_t
	if rc := C.H5Dget_num_chunks(d.id, d.space, &n); rc < 0 {
		return 0, fmt.Errorf("H5Dget_num_chunks failed (%d)", int(rc))
	}
	return uint64(n), nil
}

// Chunk is one chunk as libhdf5 reports it.
type Chunk struct {
	Offset     []uint64 // first element, in element coordinates
	Addr       uint64   // HADDR_UNDEF when the chunk is not allocated
	Size       uint64   // stored bytes
	FilterMask uint32
}

// ChunkInfo returns H5Dget_chunk_info for the idx-th allocated chunk.
func (d *Dataset) ChunkInfo(idx uint64) (Chunk, error) {
	var (
		mask C.unsigned
		addr C.haddr_t
		size C.hsize_t
	)
	off := make([]C.hsize_t, max(d.rank, 1))
	if rc := C.H5Dget_chunk_info(d.id, d.space, C.hsize_t(idx), &off[0], &mask, &addr, &size); rc < 0 {
		return Chunk{}, fmt.Errorf("H5Dget_chunk_info(%d) failed (%d)", idx, int(rc))
	}
	c := Chunk{Offset: make([]uint64, d.rank), Addr: uint64(addr), Size: uint64(size), FilterMask: uint32(mask)}
	for i := range c.Offset {
		c.Offset[i] = uint64(off[i])
	}
	return c, nil
}

// ChunkInfoByCoord returns H5Dget_chunk_info_by_coord for the chunk whose
// first element is offset. An unallocated chunk has Addr HADDR_UNDEF.
func (d *Dataset) ChunkInfoByCoord(offset []uint64) (Chunk, error) {
	off, err := d.coords(offset)
	if err != nil {
		return Chunk{}, err
	}
	var (
		mask C.unsigned
		addr C.haddr_t
		size C.hsize_t
	)
	if rc := C.H5Dget_chunk_info_by_coord(d.id, &off[0], &mask, &addr, &size); rc < 0 {
		return Chunk{}, fmt.Errorf("H5Dget_chunk_info_by_coord(%v) failed (%d)", offset, int(rc))
	}
	return Chunk{Offset: append([]uint64(nil), offset...), Addr: uint64(addr), Size: uint64(size), FilterMask: uint32(mask)}, nil
}

func (d *Dataset) coords(offset []uint64) ([]C.hsize_t, error) {
	if len(offset) != d.rank {
		return nil, fmt.Errorf("chunk offset %v for a rank %d dataset", offset, d.rank)
	}
	off := make([]C.hsize_t, max(d.rank, 1))
	for i, v := range offset {
		off[i] = C.hsize_t(v)
	}
	return off, nil
}

// ChunkStorageSize returns H5Dget_chunk_storage_size for the chunk whose
// first element is offset: its stored (filtered) size, 0 when unallocated.
func (d *Dataset) ChunkStorageSize(offset []uint64) (uint64, error) {
	off, err := d.coords(offset)
	if err != nil {
		return 0, err
	}
	var n C.hsize_t
	if rc := C.H5Dget_chunk_storage_size(d.id, &off[0], &n); rc < 0 {
		return 0, fmt.Errorf("H5Dget_chunk_storage_size(%v) failed (%d)", offset, int(rc))
	}
	return uint64(n), nil
}

// ReadChunk returns H5Dread_chunk for the chunk whose first element is
// offset: its stored (still filtered) bytes and its filter mask. size is
// the chunk's stored size (ChunkStorageSize). H5Dread_chunk finds the chunk
// through the same index lookup that libhdf5's reads use.
func (d *Dataset) ReadChunk(offset []uint64, size uint64) (mask uint32, data []byte, err error) {
	off, err := d.coords(offset)
	if err != nil {
		return 0, nil, err
	}
	if size > math.MaxInt32 {
		return 0, nil, fmt.Errorf("H5Dread_chunk(%v): chunk of %d bytes is too large", offset, size)
	}
	buf := C.malloc(C.size_t(max(size, 1)))
	if buf == nil {
		return 0, nil, fmt.Errorf("H5Dread_chunk(%v): cannot allocate %d bytes", offset, size)
	}
	defer C.free(buf)
	var m C.uint32_t
	if rc := C.H5Dread_chunk(d.id, C.H5P_DEFAULT, &off[0], &m, buf); rc < 0 {
		return 0, nil, fmt.Errorf("H5Dread_chunk(%v) failed (%d)", offset, int(rc))
	}
	return uint32(m), C.GoBytes(buf, C.int(size)), nil
}

// ExternalFile is one segment of a dataset's external raw data storage.
type ExternalFile struct {
	Name   string
	Offset uint64
	Size   uint64
}

// External returns the dataset's external storage files (H5Pget_external).
func (d *Dataset) External() ([]ExternalFile, error) {
	n := int(C.oracle_external_count(d.id))
	if n < 0 {
		return nil, fmt.Errorf("H5Pget_external_count failed")
	}
	var out []ExternalFile
	const nameSize = 4096
	name := (*C.char)(C.malloc(nameSize))
	defer C.free(unsafe.Pointer(name))
	for i := 0; i < n; i++ {
		var (
			off  C.off_t
			size C.hsize_t
		)
		if rc := C.oracle_external(d.id, C.unsigned(i), nameSize, name, &off, &size); rc < 0 {
			return nil, fmt.Errorf("H5Pget_external(%d) failed (%d)", i, int(rc))
		}
		out = append(out, ExternalFile{Name: C.GoString(name), Offset: uint64(off), Size: uint64(size)})
	}
	return out, nil
}

package kerchunk

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk/codecs"
)

// h5reader reads raw data (chunks, global heap collections) of an HDF5
// file; the metadata is hdf5meta's business.
type h5reader struct {
	r       io.ReaderAt
	size    int64
	f       *hdf5meta.File
	offSize int
	lenSize int
	heaps   map[uint64]map[uint16][]byte
}

func newH5Reader(r io.ReaderAt, size int64, f *hdf5meta.File) *h5reader {
	return &h5reader{r: r, size: size, f: f, offSize: f.Superblock.SizeOfOffsets, lenSize: f.Superblock.SizeOfLengths,
		heaps: map[uint64]map[uint16][]byte{}}
}

// readAbs reads n bytes at absolute offset off.
func (h *h5reader) readAbs(off int64, n int64, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > h.size || n > h.size-off {
		return nil, fmt.Errorf("%w: %s of %d bytes at offset %d past the end of the %d-byte file", hdf5meta.ErrTruncated, what, n, off, h.size)
	}
	if n > codecs.MaxDecoded {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrUnsupported, what, n)
	}
	b := make([]byte, n)
	if _, err := h.r.ReadAt(b, off); err != nil && !(err == io.EOF && off+n <= h.size) {
		return nil, fmt.Errorf("reading %s at offset %d: %w", what, off, err)
	}
	return b, nil
}

func (h *h5reader) uvar(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// heapObject returns object idx of the global heap collection at addr.
func (h *h5reader) heapObject(addr uint64, idx uint32) ([]byte, error) {
	objs, ok := h.heaps[addr]
	if !ok {
		var err error
		if objs, err = h.parseHeap(addr); err != nil {
			return nil, err
		}
		h.heaps[addr] = objs
	}
	obj, ok := objs[uint16(idx)]
	if !ok || idx > 0xffff {
		return nil, fmt.Errorf("%w: global heap object %d not found in the collection at %d", hdf5meta.ErrFormat, idx, addr)
	}
	return obj, nil
}

func (h *h5reader) parseHeap(addr uint64) (map[uint16][]byte, error) {
	off := h.f.AbsOffset(addr)
	hdr, err := h.readAbs(off, int64(8+h.lenSize), "global heap collection")
	if err != nil {
		return nil, err
	}
	if string(hdr[:4]) != "GCOL" {
		return nil, fmt.Errorf("%w: no global heap collection at offset %d", hdf5meta.ErrFormat, off)
	}
	size := h.uvar(hdr[8:], h.lenSize)
	if size < uint64(len(hdr)) || size > 1<<30 {
		return nil, fmt.Errorf("%w: global heap collection of %d bytes at offset %d", hdf5meta.ErrFormat, size, off)
	}
	if int64(size) > h.size-off {
		size = uint64(h.size - off) // the last collection may be cut at the end of file
	}
	b, err := h.readAbs(off, int64(size), "global heap collection")
	if err != nil {
		return nil, err
	}
	// The collection header and each object header are padded to 8 bytes
	// (libhdf5's H5HG_SIZEOF_HDR, H5HG_SIZEOF_OBJHDR).
	align8 := func(n int) int { return (n + 7) &^ 7 }
	objs := map[uint16][]byte{}
	p := align8(len(hdr))
	objHdr := align8(8 + h.lenSize)
	for p+objHdr <= len(b) {
		idx := binary.LittleEndian.Uint16(b[p:])
		n := h.uvar(b[p+8:], h.lenSize)
		p += objHdr
		if idx == 0 {
			break
		}
		if n > uint64(len(b)-p) {
			return nil, fmt.Errorf("%w: global heap object %d of %d bytes at offset %d", hdf5meta.ErrTruncated, idx, n, off+int64(p))
		}
		objs[idx] = b[p : p+int(n)]
		p += int((n + 7) &^ 7)
	}
	return objs, nil
}

// vlenElement decodes one vlen element (count, heap address, index) into
// its bytes (count elements of the base type).
func (h *h5reader) vlenElement(b []byte, baseSize int) ([]byte, error) {
	need := 4 + h.offSize + 4
	if len(b) < need {
		return nil, fmt.Errorf("%w: vlen element of %d bytes", hdf5meta.ErrFormat, len(b))
	}
	count := binary.LittleEndian.Uint32(b)
	addr := h.uvar(b[4:], h.offSize)
	idx := binary.LittleEndian.Uint32(b[4+h.offSize:])
	if count == 0 || addr == 0 || addr == ^uint64(0)>>(64-8*uint(h.offSize)) {
		return nil, nil
	}
	obj, err := h.heapObject(addr, idx)
	if err != nil {
		return nil, err
	}
	n := uint64(count) * uint64(baseSize)
	if n > uint64(len(obj)) {
		return nil, fmt.Errorf("%w: vlen element of %d items in a %d-byte heap object", hdf5meta.ErrFormat, count, len(obj))
	}
	return obj[:n], nil
}

// decodePipeline reverses the HDF5 filters of a stored chunk (skipping
// those whose bit is set in mask). rawSize is the chunk's unfiltered size.
func decodePipeline(filters []hdf5meta.Filter, mask uint32, data []byte, rawSize int, t *hdf5meta.Datatype, nelem int) ([]byte, error) {
	var err error
	for i := len(filters) - 1; i >= 0; i-- {
		if mask&(1<<uint(i)) != 0 {
			continue
		}
		f := filters[i]
		switch f.ID {
		case hdf5meta.FilterDeflate:
			data, err = codecs.ZlibDecode(data, rawSize)
		case hdf5meta.FilterShuffle:
			size := t.Size
			if len(f.Params) > 0 && f.Params[0] > 0 {
				size = int(f.Params[0])
			}
			data = codecs.Unshuffle(data, size)
		case hdf5meta.FilterFletcher32:
			data, err = codecs.Fletcher32Decode(data)
		case hdf5meta.FilterLZF:
			data, err = codecs.LZFDecode(data, rawSize)
		case hdf5meta.FilterZstd:
			var c codecs.Codec
			if c, err = codecs.New(codecs.Config{"id": "zstd"}); err == nil {
				data, err = c.Decode(data)
			}
		case hdf5meta.FilterNbit:
			data, err = nbitDecode(data, f.Params, nelem)
		case hdf5meta.FilterScaleOffset:
			data, err = scaleOffsetDecode(data, f.Params, t, nelem)
		case hdf5meta.FilterSzip:
			data, err = szipDecode(data, f.Params, rawSize)
		default:
			return nil, fmt.Errorf("%w: no Go decoder for HDF5 filter %d (%s)", ErrUnsupported, f.ID, f.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", filterName(f), err)
		}
	}
	if len(data) < rawSize {
		return nil, fmt.Errorf("%w: chunk decodes to %d bytes, want %d", hdf5meta.ErrFormat, len(data), rawSize)
	}
	return data[:rawSize], nil
}

func filterName(f hdf5meta.Filter) string {
	if f.Name != "" {
		return fmt.Sprintf("%s (id %d)", f.Name, f.ID)
	}
	return fmt.Sprintf("id %d", f.ID)
}

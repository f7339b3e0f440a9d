package kerchunk

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/greensight/vzarr/hdf5meta"
	"github.com/greensight/vzarr/kerchunk/codecs"
)

// Decoders for the HDF5 filters that have no Zarr codec. They follow the
// formats libhdf5 writes (H5Znbit.c, H5Zscaleoffset.c): both pack values
// into a bit stream, most significant bit first.

type bitReader struct {
	buf []byte
	pos int // bit position
}

func (r *bitReader) read(n int) (uint64, error) {
	if n > 64 || r.pos+n > 8*len(r.buf) {
		return 0, fmt.Errorf("%w: bit stream of %d bytes ends early", hdf5meta.ErrFormat, len(r.buf))
	}
	var v uint64
	for n > 0 {
		b := r.buf[r.pos>>3]
		avail := 8 - r.pos&7
		take := min(avail, n)
		bits := uint64(b>>(avail-take)) & (1<<take - 1)
		v = v<<take | bits
		r.pos += take
		n -= take
	}
	return v, nil
}

// nbitDecode reverses HDF5's n-bit filter. The parameters describe the
// datatype: [nparams, no-op flag, elements, class, size, ...] where an
// atomic type adds [order, precision, offset], an array [size, base...],
// a compound [size, nmembers, (offset, class, member...)...].
func nbitDecode(data []byte, params []uint32, nelem int) ([]byte, error) {
	if len(params) < 5 {
		return nil, fmt.Errorf("%w: n-bit filter with %d parameters", hdf5meta.ErrFormat, len(params))
	}
	if params[1] != 0 { // the writer found nothing to pack
		return data, nil
	}
	n := int(params[2])
	size := int(params[4])
	if size <= 0 || n < 0 || int64(n)*int64(size) > 1<<30 {
		return nil, fmt.Errorf("%w: n-bit filter for %d elements of %d bytes", hdf5meta.ErrFormat, n, size)
	}
	out := make([]byte, n*size)
	d := &nbitDecoder{r: bitReader{buf: data}, params: params, out: out}
	for i := 0; i < n; i++ {
		d.idx = 3
		if err := d.decode(i*size, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type nbitDecoder struct {
	r      bitReader
	params []uint32
	idx    int
	out    []byte
}

func (d *nbitDecoder) next() (int, error) {
	if d.idx >= len(d.params) {
		return 0, fmt.Errorf("%w: n-bit parameters end early", hdf5meta.ErrFormat)
	}
	v := d.params[d.idx]
	d.idx++
	return int(v), nil
}

const (
	nbitAtomic   = 1
	nbitArray    = 2
	nbitCompound = 3
	nbitNoop     = 4
)

// decode reads one value whose description starts at d.idx ([class, size,
// ...]) into d.out at off.
func (d *nbitDecoder) decode(off int, top bool) error {
	class, err := d.next()
	if err != nil {
		return err
	}
	size, err := d.next()
	if err != nil {
		return err
	}
	if off+size > len(d.out) || size <= 0 {
		return fmt.Errorf("%w: n-bit value of %d bytes at %d", hdf5meta.ErrFormat, size, off)
	}
	switch class {
	case nbitAtomic:
		order, err := d.next()
		if err != nil {
			return err
		}
		prec, err := d.next()
		if err != nil {
			return err
		}
		offset, err := d.next()
		if err != nil {
			return err
		}
		if prec > 64 || prec+offset > 8*size || size > 8 {
			return fmt.Errorf("%w: n-bit precision %d at offset %d in %d bytes", ErrUnsupported, prec, offset, size)
		}
		v, err := d.r.read(prec)
		if err != nil {
			return err
		}
		v <<= uint(offset)
		b := d.out[off : off+size]
		for i := 0; i < size; i++ {
			by := byte(v >> (8 * uint(i)))
			if order == 0 {
				b[i] = by
			} else {
				b[size-1-i] = by
			}
		}
	case nbitArray:
		start := d.idx
		if start+1 >= len(d.params) {
			return fmt.Errorf("%w: n-bit parameters end early", hdf5meta.ErrFormat)
		}
		baseSize := int(d.params[start+1])
		if baseSize <= 0 {
			return fmt.Errorf("%w: n-bit array of %d-byte elements", hdf5meta.ErrFormat, baseSize)
		}
		for i := 0; i < size/baseSize; i++ {
			d.idx = start
			if err := d.decode(off+i*baseSize, false); err != nil {
				return err
			}
		}
	case nbitCompound:
		nm, err := d.next()
		if err != nil {
			return err
		}
		for m := 0; m < nm; m++ {
			moff, err := d.next()
			if err != nil {
				return err
			}
			if moff >= size {
				return fmt.Errorf("%w: n-bit compound member at %d of %d bytes", hdf5meta.ErrFormat, moff, size)
			}
			if err := d.decode(off+moff, false); err != nil {
				return err
			}
		}
	case nbitNoop:
		for i := 0; i < size; i++ {
			v, err := d.r.read(8)
			if err != nil {
				return err
			}
			d.out[off+i] = byte(v)
		}
	default:
		return fmt.Errorf("%w: n-bit datatype class %d", hdf5meta.ErrFormat, class)
	}
	return nil
}

// scaleOffsetDecode reverses HDF5's scale-offset filter. Parameters:
// [scale type, scale factor, elements, class (0 int, 1 float), size, sign,
// order (0 LE, 1 BE), fill defined, fill value...].
func scaleOffsetDecode(data []byte, params []uint32, t *hdf5meta.Datatype, nelem int) ([]byte, error) {
	if len(params) < 8 {
		return nil, fmt.Errorf("%w: scale-offset filter with %d parameters", hdf5meta.ErrFormat, len(params))
	}
	scaleType, scaleFactor := params[0], int32(params[1])
	n, class, size, signed, big, filavail := int(params[2]), params[3], int(params[4]), params[5] == 1, params[6] == 1, params[7] == 1
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return nil, fmt.Errorf("%w: scale-offset of %d-byte values", ErrUnsupported, size)
	}
	if int64(n)*int64(size) > 1<<30 {
		return nil, fmt.Errorf("%w: scale-offset chunk of %d elements", hdf5meta.ErrFormat, n)
	}
	var fill uint64 // fill value bits (little-endian packing in the parameters)
	for i := 0; i < 2 && 8+i < len(params); i++ {
		fill |= uint64(params[8+i]) << (32 * uint(i))
	}
	bits := uint(8 * size)
	if bits < 64 {
		fill &= 1<<bits - 1
	}
	if class == 1 && scaleType != 0 {
		return nil, fmt.Errorf("%w: scale-offset E-scaling", ErrUnsupported)
	}
	if class == 0 {
		if scaleFactor < 0 {
			scaleFactor = 0
		}
		if int(scaleFactor) == size*8 {
			return data, nil // stored as is
		}
	}
	if len(data) < 21 {
		return nil, fmt.Errorf("%w: scale-offset chunk of %d bytes", hdf5meta.ErrFormat, len(data))
	}
	minbits := int(binary.LittleEndian.Uint32(data))
	mvSize := min(int(data[4]), 8)
	var minval uint64
	for i := 0; i < mvSize; i++ {
		minval |= uint64(data[5+i]) << (8 * uint(i))
	}
	if minbits > size*8 {
		return nil, fmt.Errorf("%w: scale-offset minbits %d for %d-byte values", hdf5meta.ErrFormat, minbits, size)
	}
	out := make([]byte, n*size)
	put := func(i int, v uint64) {
		b := out[i*size : (i+1)*size]
		for k := 0; k < size; k++ {
			by := byte(v >> (8 * uint(k)))
			if big {
				b[size-1-k] = by
			} else {
				b[k] = by
			}
		}
	}
	body := data[21:]
	if minbits == size*8 {
		// Stored at full precision, in little-endian order.
		if len(body) < n*size {
			return nil, fmt.Errorf("%w: scale-offset chunk ends early", hdf5meta.ErrFormat)
		}
		for i := 0; i < n; i++ {
			var v uint64
			for k := 0; k < size; k++ {
				v |= uint64(body[i*size+k]) << (8 * uint(k))
			}
			put(i, v)
		}
		return out, nil
	}
	vals := make([]uint64, n)
	if minbits > 0 {
		r := bitReader{buf: body}
		for i := range vals {
			v, err := r.read(minbits)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	mask := ^uint64(0)
	if bits < 64 {
		mask = 1<<bits - 1
	}
	sentinel := uint64(1)<<uint(minbits) - 1
	switch class {
	case 0: // integers: value + minimum, the all-ones code for the fill value
		for i, v := range vals {
			if filavail && v == sentinel {
				put(i, fill)
				continue
			}
			put(i, (v+minval)&mask)
		}
		_ = signed // two's complement addition is the same for both
	case 1: // floats, decimal scaling: value / 10^D + minimum
		d := float64(scaleFactor)
		switch size {
		case 4:
			minF := math.Float32frombits(uint32(minval))
			p := float32(math.Pow(10, d))
			for i, v := range vals {
				if filavail && v == sentinel {
					put(i, fill)
					continue
				}
				x := float32(int32(uint32(v)))/p + minF
				put(i, uint64(math.Float32bits(x)))
			}
		case 8:
			minF := math.Float64frombits(minval)
			p := math.Pow(10, d)
			for i, v := range vals {
				if filavail && v == sentinel {
					put(i, fill)
					continue
				}
				x := float64(int64(v))/p + minF
				put(i, math.Float64bits(x))
			}
		default:
			return nil, fmt.Errorf("%w: scale-offset of %d-byte floats", ErrUnsupported, size)
		}
	default:
		return nil, fmt.Errorf("%w: scale-offset datatype class %d", hdf5meta.ErrFormat, class)
	}
	return out, nil
}

// szipDecode reverses HDF5's szip filter.
func szipDecode(data []byte, params []uint32, rawSize int) ([]byte, error) {
	return codecs.SzipDecode(data, params)
}

// reducedPrecision reports an integer type whose significant bits do not
// fill its bytes: libhdf5 shifts and sign-extends such values on reading.
func reducedPrecision(t *hdf5meta.Datatype) bool {
	return t.Class == hdf5meta.ClassFixedPoint && t.Size <= 8 && t.Precision > 0 &&
		(t.Precision < 8*t.Size || t.BitOffset != 0)
}

// widenPrecision converts values of a reduced-precision integer type to
// full-width integers, as libhdf5's conversion to a native type does.
func widenPrecision(raw []byte, t *hdf5meta.Datatype) []byte {
	out := make([]byte, len(raw))
	size := t.Size
	prec, off := uint(t.Precision), uint(t.BitOffset)
	for i := 0; i+size <= len(raw); i += size {
		var v uint64
		for k := 0; k < size; k++ {
			b := raw[i+k]
			if t.BigEndian {
				b = raw[i+size-1-k]
			}
			v |= uint64(b) << (8 * uint(k))
		}
		v >>= off
		if prec < 64 {
			v &= 1<<prec - 1
			if t.Signed && v&(1<<(prec-1)) != 0 {
				v |= ^uint64(0) << prec
			}
		}
		for k := 0; k < size; k++ {
			b := byte(v >> (8 * uint(k)))
			if t.BigEndian {
				out[i+size-1-k] = b
			} else {
				out[i+k] = b
			}
		}
	}
	return out
}

// spaceToNull turns the trailing spaces of space-padded strings into NULs,
// as libhdf5 converts them for h5py and netCDF-C.
func spaceToNull(raw []byte, size int) []byte {
	out := append([]byte(nil), raw...)
	for i := 0; i+size <= len(out); i += size {
		for k := i + size - 1; k >= i && out[k] == ' '; k-- {
			out[k] = 0
		}
	}
	return out
}

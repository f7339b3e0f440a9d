package codecs

import (
	"encoding/binary"
)

// Adaptive Entropy Coding (CCSDS 121.0-B) decoding, and the szip framing
// HDF5's szip filter (filter 4) wraps it in, as libaec's szip
// compatibility layer reads it.

// AEC flags.
const (
	AECDataMSB        = 1 << 0 // samples are big-endian
	AECDataPreprocess = 1 << 1 // unit-delay predictor and mapping
)

// szip option mask bits (szlib.h).
const (
	szMSBOptionMask = 16
	szNNOptionMask  = 32
)

// aecBits reads an MSB-first bit stream.
type aecBits struct {
	b   []byte
	pos int // bit position
}

func (r *aecBits) left() int { return 8*len(r.b) - r.pos }

func (r *aecBits) read(n int) (uint32, bool) {
	if n == 0 {
		return 0, true
	}
	if r.left() < n {
		return 0, false
	}
	var v uint64
	for n > 0 {
		c := r.b[r.pos>>3]
		avail := 8 - r.pos&7
		take := min(avail, n)
		v = v<<take | uint64(c>>(avail-take))&(1<<take-1)
		r.pos += take
		n -= take
	}
	return uint32(v), true
}

// fs reads a fundamental sequence: the number of 0 bits before a 1.
func (r *aecBits) fs() (uint32, bool) {
	var n uint32
	for {
		if r.pos >= 8*len(r.b) {
			return 0, false
		}
		c := r.b[r.pos>>3] << (r.pos & 7)
		if c == 0 {
			n += uint32(8 - r.pos&7)
			r.pos += 8 - r.pos&7
			continue
		}
		for c&0x80 == 0 {
			c <<= 1
			n++
			r.pos++
		}
		r.pos++ // the 1 bit
		return n, true
	}
}

var aecSETable = func() [182]int32 {
	var t [182]int32
	k := 0
	for i := 0; i < 13; i++ {
		ms := k
		for j := 0; j <= i; j++ {
			t[2*k] = int32(i)
			t[2*k+1] = int32(ms)
			k++
		}
	}
	return t
}()

// AECDecode decodes an AEC stream of samples of bitsPerSample bits
// (1-32) into out, which it fills (len(out) is the decoded size); it
// returns the number of bytes decoded. blockSize is J (samples per block),
// rsi the blocks per reference sample interval.
func AECDecode(src, out []byte, bitsPerSample, blockSize, rsi, flags int) (int, error) {
	if bitsPerSample < 1 || bitsPerSample > 32 || blockSize < 1 || blockSize > 4096 || rsi < 1 || rsi > 1<<16 {
		return 0, corrupt("aec: %d bits per sample, blocks of %d, %d blocks per RSI", bitsPerSample, blockSize, rsi)
	}
	bps, idLen := 1, 3
	switch {
	case bitsPerSample > 16:
		bps, idLen = 4, 5
	case bitsPerSample > 8:
		bps, idLen = 2, 4
	}
	n := len(out) / bps
	rsiSize := rsi * blockSize
	pp := flags&AECDataPreprocess != 0
	xmax := uint32(uint64(1)<<bitsPerSample - 1)
	r := &aecBits{b: src}
	samples := make([]uint32, 0, min(n+rsiSize, 1<<26))
	rsiBuf := make([]uint32, 0, rsiSize)
	var last uint32
	flush := func() {
		i := 0
		if pp && len(rsiBuf) > 0 {
			last = rsiBuf[0]
			samples = append(samples, last)
			i = 1
		}
		for ; i < len(rsiBuf); i++ {
			d := rsiBuf[i]
			if !pp {
				samples = append(samples, d)
				continue
			}
			// Inverse of the prediction error mapping.
			halfD := d>>1 + d&1
			theta := last
			lowSide := true
			if xmax-last < theta {
				theta = xmax - last
				lowSide = false
			}
			switch {
			case halfD <= theta:
				if d&1 == 0 {
					last += d >> 1
				} else {
					last -= d>>1 + 1
				}
			case lowSide:
				last = d
			default:
				last = xmax - d
			}
			samples = append(samples, last&xmax)
		}
		rsiBuf = rsiBuf[:0]
	}
	push := func(v uint32) { rsiBuf = append(rsiBuf, v) }
	for len(samples)+len(rsiBuf) < n {
		if len(rsiBuf) == rsiSize {
			flush()
			continue
		}
		ref := 0
		if pp && len(rsiBuf) == 0 {
			ref = 1
		}
		id, ok := r.read(idLen)
		if !ok {
			break // the stream ends (its last bits are padding)
		}
		switch {
		case id == 0: // low entropy: second extension or zero blocks
			sel, ok := r.read(1)
			if !ok {
				return 0, corrupt("aec: stream ends in a block header")
			}
			if ref == 1 {
				v, ok := r.read(bitsPerSample)
				if !ok {
					return 0, corrupt("aec: stream ends in a reference sample")
				}
				push(v)
			}
			if sel == 1 {
				for i := ref; i < blockSize; {
					m, ok := r.fs()
					if !ok || m >= 91 {
						return 0, corrupt("aec: bad second-extension code")
					}
					d1 := int32(m) - aecSETable[2*m+1]
					if i&1 == 0 {
						push(uint32(aecSETable[2*m] - d1))
						i++
					}
					push(uint32(d1))
					i++
				}
			} else {
				f, ok := r.fs()
				if !ok {
					return 0, corrupt("aec: stream ends in a zero block")
				}
				zb := int(f) + 1
				if zb == 5 { // ROS: to the end of the RSI or of the 64-block segment
					b := len(rsiBuf) / blockSize
					zb = min(rsi-b, 64-b%64)
				} else if zb > 5 {
					zb--
				}
				zs := zb*blockSize - ref
				if zs < 0 || len(rsiBuf)+zs > rsiSize {
					return 0, corrupt("aec: zero block past the reference sample interval")
				}
				for i := 0; i < zs; i++ {
					push(0)
				}
			}
		case id == 1<<idLen-1: // uncompressed
			for i := 0; i < blockSize; i++ {
				v, ok := r.read(bitsPerSample)
				if !ok {
					return 0, corrupt("aec: stream ends in an uncompressed block")
				}
				push(v)
			}
		default: // split-sample option k
			k := int(id) - 1
			if ref == 1 {
				v, ok := r.read(bitsPerSample)
				if !ok {
					return 0, corrupt("aec: stream ends in a reference sample")
				}
				push(v)
			}
			start := len(rsiBuf)
			for i := ref; i < blockSize; i++ {
				f, ok := r.fs()
				if !ok {
					return 0, corrupt("aec: stream ends in a block")
				}
				push(f << k)
			}
			if k > 0 {
				for i := start; i < len(rsiBuf); i++ {
					v, ok := r.read(k)
					if !ok {
						return 0, corrupt("aec: stream ends in a block")
					}
					rsiBuf[i] += v
				}
			}
		}
		if len(rsiBuf) > rsiSize {
			return 0, corrupt("aec: block past the reference sample interval")
		}
	}
	flush()
	if len(samples) > n {
		samples = samples[:n]
	}
	msb := flags&AECDataMSB != 0
	for i, v := range samples {
		o := out[i*bps:]
		switch {
		case bps == 1:
			o[0] = byte(v)
		case bps == 2 && msb:
			binary.BigEndian.PutUint16(o, uint16(v))
		case bps == 2:
			binary.LittleEndian.PutUint16(o, uint16(v))
		case msb:
			binary.BigEndian.PutUint32(o, v)
		default:
			binary.LittleEndian.PutUint32(o, v)
		}
	}
	return len(samples) * bps, nil
}

// SzipDecode decodes a chunk of HDF5's szip filter: a little-endian uint32
// decoded size, then the AEC stream. params are the filter's client data:
// options mask, pixels per block, bits per pixel, pixels per scanline.
// 32- and 64-bit pixels are coded as bytes, byte-plane interleaved, and
// scanlines that are not a whole number of blocks are padded, as in
// libaec's szip emulation.
func SzipDecode(data []byte, params []uint32) ([]byte, error) {
	if len(params) < 4 {
		return nil, corrupt("szip: %d parameters", len(params))
	}
	if len(data) < 4 {
		return nil, corrupt("szip: chunk of %d bytes", len(data))
	}
	mask, ppb, bpp, pps := int(params[0]), int(params[1]), int(params[2]), int(params[3])
	size := int(binary.LittleEndian.Uint32(data))
	if size > MaxDecoded || ppb <= 0 || pps <= 0 || bpp <= 0 || bpp > 64 {
		return nil, corrupt("szip: %d bytes, %d pixels per block, %d bits per pixel, %d per scanline", size, ppb, bpp, pps)
	}
	flags := 0
	if mask&szMSBOptionMask != 0 {
		flags |= AECDataMSB
	}
	if mask&szNNOptionMask != 0 {
		flags |= AECDataPreprocess
	}
	rsi := (pps + ppb - 1) / ppb
	interleaved := bpp == 32 || bpp == 64
	bits := bpp
	if interleaved {
		bits = 8
	}
	pixel := 1
	switch {
	case bits > 16:
		pixel = 4
	case bits > 8:
		pixel = 2
	}
	pad := pps%ppb != 0
	bufSize := size
	scanlines := 0
	if pad {
		scanlines = (size/pixel + pps - 1) / pps
		bufSize = rsi * ppb * pixel * scanlines
	}
	buf := make([]byte, bufSize)
	n, err := AECDecode(data[4:], buf, bits, ppb, rsi, flags)
	if err != nil {
		return nil, err
	}
	buf = buf[:n]
	if pad {
		line, padded := pps*pixel, rsi*ppb*pixel
		out := make([]byte, 0, scanlines*line)
		for off := 0; off < len(buf); off += padded {
			out = append(out, buf[off:min(off+line, len(buf))]...)
		}
		buf = out
	}
	if len(buf) < size {
		return nil, corrupt("szip: stream decodes to %d bytes, want %d", len(buf), size)
	}
	buf = buf[:size]
	if interleaved {
		buf = Unshuffle(buf, bpp/8)
	}
	return buf, nil
}

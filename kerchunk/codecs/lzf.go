package codecs

// LZF is the compression of h5py's LZF filter (HDF5 filter 32000), raw
// LZF without header: imagecodecs_lzf with header=false in Zarr.

// LZFDecode decompresses raw LZF data. sizeHint, when positive, is the
// expected decoded size (the filter's chunk size parameter).
func LZFDecode(src []byte, sizeHint int) ([]byte, error) {
	capHint := sizeHint
	if capHint <= 0 || capHint > MaxDecoded {
		capHint = 2 * len(src)
	}
	out := make([]byte, 0, capHint)
	ip := 0
	for ip < len(src) {
		ctrl := int(src[ip])
		ip++
		if ctrl < 32 {
			n := ctrl + 1
			if ip+n > len(src) {
				return nil, corrupt("lzf: literal run past the end")
			}
			out = append(out, src[ip:ip+n]...)
			ip += n
		} else {
			n := ctrl >> 5
			if n == 7 {
				if ip >= len(src) {
					return nil, corrupt("lzf: truncated")
				}
				n += int(src[ip])
				ip++
			}
			if ip >= len(src) {
				return nil, corrupt("lzf: truncated")
			}
			ref := len(out) - (ctrl&0x1f)<<8 - 1 - int(src[ip])
			ip++
			n += 2
			if ref < 0 {
				return nil, corrupt("lzf: back reference before the start")
			}
			if len(out)+n > MaxDecoded {
				return nil, corrupt("lzf: more than %d bytes", MaxDecoded)
			}
			for i := 0; i < n; i++ { // may overlap
				out = append(out, out[ref+i])
			}
		}
		if len(out) > MaxDecoded {
			return nil, corrupt("lzf: more than %d bytes", MaxDecoded)
		}
	}
	return out, nil
}

const (
	lzfHashBits = 14
	lzfMaxOff   = 1 << 13
	lzfMaxRef   = (1 << 8) + (1 << 3) // 264
	lzfMaxLit   = 1 << 5
)

// LZFEncode compresses src as raw LZF (any LZF decoder reads it).
func LZFEncode(src []byte) []byte {
	out := make([]byte, 0, len(src)/2+16)
	var table [1 << lzfHashBits]int32
	for i := range table {
		table[i] = -1
	}
	hash := func(p int) uint32 {
		v := uint32(src[p])<<16 | uint32(src[p+1])<<8 | uint32(src[p+2])
		return (v * 2654435761) >> (32 - lzfHashBits)
	}
	litStart := 0
	flushLit := func(end int) {
		for litStart < end {
			n := min(end-litStart, lzfMaxLit)
			out = append(out, byte(n-1))
			out = append(out, src[litStart:litStart+n]...)
			litStart += n
		}
	}
	ip := 0
	for ip+2 < len(src) {
		h := hash(ip)
		ref := int(table[h])
		table[h] = int32(ip)
		off := ip - ref - 1
		if ref >= 0 && off < lzfMaxOff && src[ref] == src[ip] && src[ref+1] == src[ip+1] && src[ref+2] == src[ip+2] {
			n := 3
			maxN := min(lzfMaxRef, len(src)-ip)
			for n < maxN && src[ref+n] == src[ip+n] {
				n++
			}
			flushLit(ip)
			l := n - 2
			if l < 7 {
				out = append(out, byte(l<<5|off>>8))
			} else {
				out = append(out, byte(7<<5|off>>8), byte(l-7))
			}
			out = append(out, byte(off))
			ip += n
			litStart = ip
			continue
		}
		ip++
	}
	flushLit(len(src))
	return out
}

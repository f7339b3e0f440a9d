package kerchunk

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/greensight/vzarr/hdf5meta"
)

// ErrExternalPath reports a dataset whose raw data lives in an external
// file (H5Pset_external) outside the directory of the HDF5 file: a name
// that climbs out of it ("../../etc/passwd"), an absolute path elsewhere,
// or a URL. References never point there.
var ErrExternalPath = errors.New("kerchunk: external raw data file outside the source's directory")

// extSegment is one piece of a dataset's external storage: bytes
// [start, end) of the data are at offset off of the file url.
type extSegment struct {
	start, end int64
	url        string
	off        int64
}

// externalSegments resolves and merges the external storage of ds, whose
// data is need bytes: segments of one file that follow each other become
// one, and the list stops where the data ends.
func (t *h5translator) externalSegments(ds *hdf5meta.Dataset, need int64) ([]extSegment, error) {
	var out []extSegment
	pos := int64(0)
	for i, e := range ds.External {
		if pos >= need {
			break
		}
		url, err := t.externalURL(e.Name)
		if err != nil {
			return nil, err
		}
		if e.Offset > math.MaxInt64 {
			return nil, fmt.Errorf("%w: external file %q segment %d at offset %d", hdf5meta.ErrFormat, e.Name, i, e.Offset)
		}
		size := need - pos
		if e.Size != hdf5meta.UnlimitedSize && e.Size < uint64(size) {
			size = int64(e.Size)
		}
		if size > math.MaxInt64-int64(e.Offset) {
			return nil, fmt.Errorf("%w: external file %q segment %d of %d bytes at offset %d", hdf5meta.ErrFormat, e.Name, i, size, e.Offset)
		}
		if size == 0 {
			continue
		}
		s := extSegment{start: pos, end: pos + size, url: url, off: int64(e.Offset)}
		if n := len(out); n > 0 && out[n-1].url == s.url && out[n-1].off+(out[n-1].end-out[n-1].start) == s.off {
			out[n-1].end = s.end
		} else {
			out = append(out, s)
		}
		pos += size
	}
	if pos < need {
		return nil, fmt.Errorf("%w: the external files hold %d of the data's %d bytes", hdf5meta.ErrFormat, pos, need)
	}
	return out, nil
}

// externalChunkShape returns the Zarr chunk shape of contiguous data held
// in external segments: the whole array when one segment holds it, else
// the largest block (1 along leading dimensions, a divisor of one
// dimension, whole trailing dimensions) of which every segment boundary
// is a multiple, so that each chunk lies in one segment. A boundary that
// cuts an element fails with ErrUnsupported.
func externalChunkShape(segs []extSegment, dims []uint64, elemSize int) ([]uint64, error) {
	chunks := make([]uint64, len(dims))
	copy(chunks, dims)
	if len(segs) <= 1 {
		return chunks, nil
	}
	for j := range dims {
		unit := uint64(elemSize)
		for _, n := range dims[j+1:] {
			unit *= n
		}
		g := dims[j]
		ok := true
		for _, s := range segs[1:] {
			b := uint64(s.start)
			if b%unit != 0 {
				ok = false
				break
			}
			g = gcd(g, b/unit)
		}
		if !ok {
			continue
		}
		for i := range j {
			chunks[i] = 1
		}
		chunks[j] = g
		return chunks, nil
	}
	for _, s := range segs[1:] {
		if uint64(s.start)%uint64(elemSize) != 0 {
			return nil, fmt.Errorf("%w: external storage: the segment boundary at byte %d of the data cuts a %d-byte element", ErrUnsupported, s.start, elemSize)
		}
	}
	return nil, fmt.Errorf("%w: external storage of a scalar in %d segments", ErrUnsupported, len(segs))
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// externalChunks lists the chunks of contiguous data held in external
// files, one reference per chunk of p's grid (see externalChunkShape).
func (t *h5translator) externalChunks(p *varPlan, list *chunkList) (*chunkList, error) {
	chunkBytes := int64(p.ds.Type.Size)
	for _, n := range p.za.Chunks[:p.h5rank] {
		chunkBytes *= int64(n) // at most the data's size, which is an int64
	}
	si := 0
	for lin := uint64(0); lin < p.total; lin++ {
		if err := t.countChunk(p, lin+1); err != nil {
			return nil, err
		}
		start := int64(lin) * chunkBytes
		for si < len(p.ext) && p.ext[si].end <= start {
			si++
		}
		if si == len(p.ext) || start+chunkBytes > p.ext[si].end {
			return nil, fmt.Errorf("%w: external chunk %d outside its segment", hdf5meta.ErrFormat, lin)
		}
		s := p.ext[si]
		list.ents = append(list.ents, storedEntry{lin: lin, off: s.off + start - s.start, size: chunkBytes})
		list.urls = append(list.urls, s.url)
	}
	t.nchunks += p.total
	return list, nil
}

// externalURL resolves the name of an external raw data file as libhdf5
// does with the prefix "${ORIGIN}": relative to the directory of the HDF5
// file. It refuses (ErrExternalPath) a name that leaves that directory.
func (t *h5translator) externalURL(name string) (string, error) {
	refuse := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q %s", ErrExternalPath, name, why)
	}
	if strings.Contains(name, "://") || strings.ContainsAny(name, "\\\x00") {
		return refuse("is not a plain file name")
	}
	dirURL, dirPath := "", ""
	if i := strings.LastIndexByte(t.url, '/'); i >= 0 {
		dirURL = t.url[:i+1]
		dirPath = dirURL
		if j := strings.Index(dirPath, "://"); j >= 0 {
			dirPath = dirPath[j+3:]
			if k := strings.IndexByte(dirPath, '/'); k >= 0 {
				dirPath = dirPath[k:]
			} else {
				dirPath = "/"
			}
		}
	}
	rel := name
	if strings.HasPrefix(name, "/") {
		dir := path.Clean(dirPath)
		clean := path.Clean(name)
		if !strings.HasPrefix(dirPath, "/") || !strings.HasPrefix(clean, strings.TrimSuffix(dir, "/")+"/") {
			return refuse("is an absolute path outside the directory of the HDF5 file")
		}
		rel = strings.TrimPrefix(clean, strings.TrimSuffix(dir, "/")+"/")
	}
	rel = path.Clean(rel)
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return refuse("leaves the directory of the HDF5 file")
	}
	return dirURL + rel, nil
}

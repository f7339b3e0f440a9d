package kerchunk

import (
	"encoding/json"
	"unsafe"

	"github.com/greensight/vzarr/zarr"
)

// ConsolidatedKey is the key of a reference set's consolidated Zarr v2
// metadata: {"metadata": {every .zgroup/.zarray/.zattrs key: its JSON},
// "zarr_consolidated_format": 1}. Readers that open a group from it need
// not list the store (zarr-python 3 cannot list a reference:// store
// below its root).
const ConsolidatedKey = ".zmetadata"

// isConsolidatedKey reports whether key is a .zmetadata key (the root's
// or, in foreign references, a group's).
func isConsolidatedKey(key string) bool {
	return key == ConsolidatedKey || len(key) > len(ConsolidatedKey) &&
		key[len(key)-len(ConsolidatedKey)-1:] == "/"+ConsolidatedKey
}

// appendMetadataObject appends to dst the JSON object mapping every
// metadata key of s but the .zmetadata keys to its JSON text, in the
// order of s, ASCII only. A metadata key that does not hold inline JSON (NaN and
// Infinity allowed, as Zarr writes them) is an ErrBadRefs error. Chunk
// references are only looked at, never copied.
func (s *Refs) appendMetadataObject(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	n := 0
	for i := range s.n {
		k := s.key(i)
		if !IsMetadataKey(k) || isConsolidatedKey(k) {
			continue
		}
		r := s.ref(i)
		if !r.IsInline() || !json.Valid(zarr.QuoteNonFinite(r.Data)) {
			return dst, badRefs("metadata key %q does not hold JSON", k)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		// All ASCII, as zarr 2 decodes metadata (EscapeNonASCII).
		dst = append(dst, zarr.EscapeNonASCII(string(appendJSONString(nil, k)))...)
		dst = append(dst, ':')
		dst = append(dst, zarr.EscapeNonASCII(unsafe.String(unsafe.SliceData(r.Data), len(r.Data)))...)
		n++
	}
	return append(dst, '}'), nil
}

// Consolidate sets the root .zmetadata of s (ConsolidatedKey) from its
// metadata keys, in place when s has one, else at the end. Call it after
// the last change to the metadata, so that the two stay in step; every
// reference set vzarr builds (translation, combine, a Parquet set read)
// is consolidated. Only metadata text is copied; no key index is built
// (a .zmetadata key of a group, found only in foreign references, is left
// as it is: readers use the root's).
func (s *Refs) Consolidate() error {
	b, err := s.appendMetadataObject([]byte(`{"metadata":`))
	if err != nil {
		return err
	}
	b = append(b, `,"zarr_consolidated_format":1}`...)
	for i := range s.n {
		if s.key(i) == ConsolidatedKey {
			s.setAt(i, Inline(b))
			return nil
		}
	}
	s.add(ConsolidatedKey, Inline(b))
	return nil
}

package testenv

// H5Truth is what testdata/gen_fixtures.py recorded, from h5py and
// libhdf5, about one HDF5 fixture (testdata/hdf5/*.truth.json): the parts
// the tests compare against.
type H5Truth struct {
	Superblock struct {
		Version int   `json:"version"`
		Offset  int64 `json:"offset"`
	} `json:"superblock"`
	Groups   map[string]H5TruthGroup   `json:"groups"`
	Datasets map[string]H5TruthDataset `json:"datasets"`
}

// H5TruthGroup is one group of an H5Truth: its links and attributes.
type H5TruthGroup struct {
	Links map[string]struct {
		Type string `json:"type"`
	} `json:"links"`
	Attributes map[string]H5TruthAttr `json:"attributes"`
}

// H5TruthAttr is one attribute of an H5Truth: its dataspace, numpy dtype
// and value (as JSON, and the raw bytes in base64).
type H5TruthAttr struct {
	Dataspace string       `json:"dataspace"`
	Dtype     H5TruthDtype `json:"dtype"`
	Value     any          `json:"value"`
	RawB64    string       `json:"raw_b64"`
}

// H5TruthDataset is one dataset of an H5Truth: its shape, dtype, storage
// (layout, chunk index and chunks, filters, fill value, external files)
// and attributes.
type H5TruthDataset struct {
	Dataspace  string       `json:"dataspace"`
	Shape      []uint64     `json:"shape"`
	MaxShape   []*uint64    `json:"maxshape"`
	Dtype      H5TruthDtype `json:"dtype"`
	Layout     string       `json:"layout"`
	ChunkIndex string       `json:"chunk_index"`
	Chunks     []uint64
	Filters    []struct {
		ID     uint16   `json:"id"`
		Flags  uint16   `json:"flags"`
		Params []uint32 `json:"params"`
	} `json:"filters"`
	FillValue struct {
		Defined string `json:"defined"`
		RawB64  string `json:"raw_b64"`
	} `json:"fill_value"`
	Addr      *int64  `json:"addr"`
	Size      *uint64 `json:"size"`
	NumChunks *int    `json:"num_chunks"`
	ChunkList []struct {
		Offset     []uint64 `json:"offset"`
		Addr       uint64   `json:"addr"`
		Size       uint64   `json:"size"`
		FilterMask uint32   `json:"filter_mask"`
	} `json:"chunk_list"`
	External []struct {
		Name   string `json:"name"`
		Offset uint64 `json:"offset"`
		Size   uint64 `json:"size"`
	} `json:"external"`
	Attributes map[string]H5TruthAttr `json:"attributes"`
}

// H5TruthDtype is a datatype as numpy names it ("<f4") and its kind.
type H5TruthDtype struct {
	Numpy string `json:"numpy"`
	Kind  string `json:"kind"`
}

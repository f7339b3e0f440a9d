package hdf5meta

// Typed access to attribute values.

// IsDimensionScale reports whether the dataset is an HDF5 dimension scale
// (CLASS "DIMENSION_SCALE") of at least one dimension.
func (ds *Dataset) IsDimensionScale() bool {
	s, _ := AttrString(ds, "CLASS")
	return s == "DIMENSION_SCALE" && ds.Space.Kind == SpaceSimple && len(ds.Space.Dims) >= 1
}

// AttrString returns the value of a string attribute (or of a list of one
// string) of o.
func AttrString(o Object, name string) (string, bool) {
	a := Attr(o, name)
	if a == nil {
		return "", false
	}
	switch v := a.Value.(type) {
	case string:
		return v, true
	case []string:
		if len(v) == 1 {
			return v[0], true
		}
	}
	return "", false
}

// AttrInts returns the values of an integer attribute of o (a scalar is
// one value).
func AttrInts(o Object, name string) ([]int64, bool) {
	a := Attr(o, name)
	if a == nil {
		return nil, false
	}
	var out []int64
	switch v := a.Value.(type) {
	case []int32:
		for _, x := range v {
			out = append(out, int64(x))
		}
	case []int64:
		out = v
	case []any:
		for _, x := range v {
			n, ok := AsInt(x)
			if !ok {
				return nil, false
			}
			out = append(out, n)
		}
	default:
		n, ok := AsInt(v)
		if !ok {
			return nil, false
		}
		out = []int64{n}
	}
	return out, true
}

// AsInt converts a decoded integer value, or the first element of an
// integer slice, to int64.
func AsInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	case []int32:
		if len(x) > 0 {
			return int64(x[0]), true
		}
	case []int64:
		if len(x) > 0 {
			return x[0], true
		}
	case []any:
		if len(x) > 0 {
			return AsInt(x[0])
		}
	}
	return 0, false
}

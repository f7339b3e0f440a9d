package kerchunk

import (
	"encoding/base64"
	"github.com/greensight/vzarr/zarr"
	"strconv"
	"strings"
	"unicode/utf8"
)

// toValidUTF8 replaces each invalid byte by U+FFFD, as Python's
// bytes.decode("utf-8", "replace") roughly does.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// appendValue appends a decoded HDF5/netCDF attribute value as JSON.
// Numbers stay numbers (integers exact), strings stay strings, slices
// become arrays, compound values objects (member order from order, when
// given), raw bytes arrays of byte values.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendJSONString(b, toValidUTF8(x))
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float32:
		return zarr.AppendFloat(b, float64(x))
	case float64:
		return zarr.AppendFloat(b, x)
	case []byte:
		b = append(b, '[')
		for i, c := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(c), 10)
		}
		return append(b, ']')
	case []string:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return appendJSONString(b, toValidUTF8(x[i])) })
	case []float32:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return zarr.AppendFloat(b, float64(x[i])) })
	case []float64:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return zarr.AppendFloat(b, x[i]) })
	case []int8:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x[i]), 10) })
	case []int16:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x[i]), 10) })
	case []int32:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(x[i]), 10) })
	case []int64:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendInt(b, x[i], 10) })
	case []uint16:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(x[i]), 10) })
	case []uint32:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(x[i]), 10) })
	case []uint64:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendUint(b, x[i], 10) })
	case []bool:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return strconv.AppendBool(b, x[i]) })
	case []any:
		return appendSlice(b, len(x), func(b []byte, i int) []byte { return appendValue(b, x[i]) })
	case orderedMap:
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendValue(b, x.vals[i])
		}
		return append(b, '}')
	case map[string]any:
		// Without the datatype the member order is lost: sort names.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortStrings(keys)
		om := orderedMap{keys: keys}
		for _, k := range keys {
			om.vals = append(om.vals, x[k])
		}
		return appendValue(b, om)
	case rawJSON:
		return append(b, x...)
	}
	return append(b, "null"...)
}

// orderedMap is a JSON object with ordered members.
type orderedMap struct {
	keys []string
	vals []any
}

// rawJSON is JSON text appended as is.
type rawJSON string

func appendSlice(b []byte, n int, elem func([]byte, int) []byte) []byte {
	b = append(b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, i)
	}
	return append(b, ']')
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func appendBase64(b []byte, data []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

package zarr

import "errors"

// EachMember calls fn with the raw key (a JSON string literal) and the raw
// value of every member of the JSON object in data, in order, without
// decoding them: bare NaN, Infinity and -Infinity values, which Python
// writes, pass through as they are, so the text of a member can be kept
// exactly. It does not validate the values (check the whole text first
// where that matters). Structural errors wrap ErrInvalid; an error from
// fn is returned as it is.
func EachMember(data []byte, fn func(key, val []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return invalid("not a JSON object")
	}
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] != '}' {
		end, err := scanValue(data, i)
		if err != nil {
			return invalid("%v", err)
		}
		key := data[i:end]
		if len(key) < 2 || key[0] != '"' {
			return invalid("object key %.20q is not a string", key)
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return invalid("missing ':'")
		}
		i = skipSpace(data, i+1)
		if end, err = scanValue(data, i); err != nil {
			return invalid("%v", err)
		}
		if end == i {
			return invalid("missing value")
		}
		if err := fn(key, data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	if i >= len(data) {
		return invalid("unterminated object")
	}
	return nil
}

// SplitArray splits a JSON array into the raw text of its elements, as
// EachMember splits objects. Structural errors wrap ErrInvalid.
func SplitArray(data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, invalid("not an array")
	}
	i = skipSpace(data, i+1)
	var out [][]byte
	for i < len(data) && data[i] != ']' {
		end, err := scanValue(data, i)
		if err != nil {
			return nil, invalid("%v", err)
		}
		if end == i {
			return nil, invalid("missing element")
		}
		out = append(out, data[i:end])
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	if i >= len(data) {
		return nil, invalid("unterminated array")
	}
	return out, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanValue returns the end of the JSON value starting at i.
func scanValue(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			j++
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return 0, errors.New("unterminated string")
			}
			if depth == 0 {
				return j + 1, nil
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j, nil // the end of a number or literal
			}
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		case ',', ':', ' ', '\n', '\t', '\r':
			if depth == 0 {
				return j, nil
			}
		}
	}
	if depth == 0 && len(b) > i {
		return len(b), nil
	}
	return 0, errors.New("unterminated value")
}

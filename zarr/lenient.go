package zarr

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// QuoteNonFinite returns JSON text in which the bare NaN, Infinity and
// -Infinity tokens that Python's json module writes (outside strings) are
// the strings "NaN", "Infinity" and "-Infinity", as Zarr writes float fill
// values, so that encoding/json reads it; b itself when it has none.
func QuoteNonFinite(b []byte) []byte {
	return rewriteNonFinite(b, `"NaN"`, `"Infinity"`, `"-Infinity"`)
}

// Sentinels ParseAttrs reads bare tokens as before turning them into
// floats (a JSON string cannot otherwise hold a NUL byte unescaped).
const (
	sentNaN  = "\x00NaN"
	sentInf  = "\x00+Inf"
	sentNInf = "\x00-Inf"
)

// rewriteNonFinite replaces the bare NaN, Infinity and -Infinity tokens of
// JSON text (outside strings) with nan, inf and ninf.
func rewriteNonFinite(b []byte, nan, inf, ninf string) []byte {
	if !bytes.Contains(b, []byte("NaN")) && !bytes.Contains(b, []byte("Infinity")) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case bytes.HasPrefix(b[i:], []byte("NaN")):
			out = append(out, nan...)
			i += len("NaN") - 1
		case bytes.HasPrefix(b[i:], []byte("-Infinity")):
			out = append(out, ninf...)
			i += len("-Infinity") - 1
		case bytes.HasPrefix(b[i:], []byte("Infinity")):
			out = append(out, inf...)
			i += len("Infinity") - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

// ParseAttrs parses a .zattrs (or any JSON object) document as Python
// writes it: numbers are json.Number (integers stay exact), the bare NaN,
// Infinity and -Infinity tokens are float64 values. Errors wrap
// ErrInvalid.
func ParseAttrs(b []byte) (map[string]any, error) {
	text := rewriteNonFinite(b, `"`+jsonEscapeNUL(sentNaN)+`"`, `"`+jsonEscapeNUL(sentInf)+`"`, `"`+jsonEscapeNUL(sentNInf)+`"`)
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, invalid("attributes: %v", err)
	}
	if m == nil {
		return nil, invalid("attributes: not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, invalid("attributes: text after the object")
	}
	for k, v := range m {
		m[k] = fixSentinels(v)
	}
	return m, nil
}

func jsonEscapeNUL(s string) string { return `\u0000` + s[1:] }

func fixSentinels(v any) any {
	switch x := v.(type) {
	case string:
		switch x {
		case sentNaN:
			return math.NaN()
		case sentInf:
			return math.Inf(1)
		case sentNInf:
			return math.Inf(-1)
		}
	case []any:
		for i := range x {
			x[i] = fixSentinels(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fixSentinels(x[k])
		}
	}
	return v
}

// AsFloat converts a decoded JSON value to a float64: a number (float64
// or json.Number), a one-element list of one, or one of the strings
// "NaN", "Infinity", "-Infinity" (Zarr's encodings of the non-finite
// floats).
func AsFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil || isRangeErr(err)
	case []any:
		if len(x) == 1 {
			return AsFloat(x[0])
		}
	case string:
		return nonFinite(x)
	}
	return 0, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// nonFinite reads Zarr's string encodings of the non-finite floats.
func nonFinite(s string) (float64, bool) {
	switch s {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	return 0, false
}

// AppendFloat appends f as Python's json module writes it: the shortest
// digits that round-trip, integral values with ".0" (1.0, not 1) so that
// readers keep them floating point, and NaN, Infinity and -Infinity as
// bare tokens (Python's json reads them; see QuoteNonFinite).
func AppendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	s := strconv.AppendFloat(b, f, 'g', -1, 64)
	for _, c := range s[len(b):] {
		if c == '.' || c == 'e' || c == 'E' {
			return s
		}
	}
	return append(s, ".0"...)
}

// EscapeNonASCII returns JSON text with every non-ASCII character escaped
// as \uXXXX (surrogate pairs above U+FFFF), as Python's json.dumps writes
// by default: zarr 2 decodes metadata as ASCII. Non-ASCII bytes only occur
// inside strings, so the text stays equivalent; s itself when it is ASCII.
func EscapeNonASCII(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for _, r := range s[i:] {
		switch {
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = appendU4(b, 0xd800+(r>>10))
			b = appendU4(b, 0xdc00+(r&0x3ff))
		default:
			b = appendU4(b, r)
		}
	}
	return string(b)
}

func appendU4(b []byte, r rune) []byte {
	const hexDigits = "0123456789abcdef"
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

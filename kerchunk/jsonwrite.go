package kerchunk

import (
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteOptions configures WriteJSON.
type WriteOptions struct {
	// NoTemplates writes every URL in full instead of naming URLs used
	// more than once in "templates" ({{u}}, {{u1}}, ...).
	NoTemplates bool
}

// templateNames assigns template names to the URLs worth abbreviating:
// those referenced at least twice whose text fsspec's simple template
// substitution (str.format) leaves intact.
func templateNames(s *Refs) (names map[string]string, order []string) {
	count := make([]int, len(s.urls))
	for i := range s.n {
		if u := s.ent(i).url; u >= 0 {
			if count[u] == 0 {
				order = append(order, s.urls[u])
			}
			count[u]++
		}
	}
	names = map[string]string{}
	var kept []string
	for _, u := range order {
		if count[s.urlIdx[u]] < 2 || len(u) < 8 || strings.ContainsAny(u, "{}") {
			continue
		}
		name := "u"
		if len(kept) > 0 {
			name = "u" + strconv.Itoa(len(kept))
		}
		names[u] = name
		kept = append(kept, u)
	}
	return names, kept
}

// WriteJSON writes s as a kerchunk version 1 reference file:
//
//	{"version":1,"templates":{"u":"..."},"refs":{
//	"key":value,
//	...
//	}}
//
// with one reference per line, in the order of s. Inline values are
// written as text when they are valid UTF-8 without control characters
// other than tab and newline (Zarr metadata always is), else as
// "base64:..."; byte ranges as ["{{u}}",offset,length] or ["url",offset,
// length], whole objects as ["url"]. The output is deterministic.
func WriteJSON(w io.Writer, s *Refs, opts *WriteOptions) error {
	if opts == nil {
		opts = &WriteOptions{}
	}
	var names map[string]string
	var order []string
	if !opts.NoTemplates {
		names, order = templateNames(s)
	}
	jw := &jsonWriter{w: w, buf: make([]byte, 0, 64<<10)}
	jw.raw(`{"version":1`)
	if len(order) > 0 {
		jw.raw(`,"templates":{`)
		for i, u := range order {
			if i > 0 {
				jw.raw(",")
			}
			jw.str(names[u])
			jw.raw(":")
			jw.str(u)
		}
		jw.raw("}")
	}
	jw.raw(`,"refs":{`)
	for i := range s.n {
		if i > 0 {
			jw.raw(",")
		}
		jw.raw("\n")
		jw.str(s.key(i))
		jw.raw(":")
		r := s.ref(i)
		switch {
		case r.IsInline():
			jw.inline(r.Data)
		default:
			jw.raw("[")
			if n, ok := names[r.URL]; ok {
				jw.raw(`"{{` + n + `}}"`)
			} else {
				jw.str(r.URL)
			}
			if r.Length >= 0 {
				jw.raw(",")
				jw.buf = strconv.AppendInt(jw.buf, r.Offset, 10)
				jw.raw(",")
				jw.buf = strconv.AppendInt(jw.buf, r.Length, 10)
			}
			jw.raw("]")
		}
		if jw.err != nil {
			return jw.err
		}
		jw.maybeFlush()
	}
	if s.n > 0 {
		jw.raw("\n")
	}
	jw.raw("}}\n")
	return jw.flush()
}

type jsonWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func (j *jsonWriter) raw(s string) { j.buf = append(j.buf, s...) }

func (j *jsonWriter) maybeFlush() {
	if len(j.buf) >= 48<<10 {
		j.flush()
	}
}

func (j *jsonWriter) flush() error {
	if j.err == nil && len(j.buf) > 0 {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
	return j.err
}

func (j *jsonWriter) str(s string) { j.buf = appendJSONString(j.buf, s) }

func (j *jsonWriter) inline(data []byte) {
	if isText(data) {
		j.buf = appendJSONString(j.buf, string(data))
		return
	}
	j.buf = append(j.buf, `"base64:`...)
	j.buf = base64.StdEncoding.AppendEncode(j.buf, data)
	j.buf = append(j.buf, '"')
	if len(j.buf) >= 1<<20 {
		j.flush()
	}
}

// isText reports whether inline data can be written as a JSON string that
// fsspec turns back into the same bytes (it encodes strings as UTF-8).
func isText(b []byte) bool {
	if len(b) >= 7 && string(b[:7]) == "base64:" {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' {
			return false
		}
	}
	return utf8.Valid(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; "<", ">" and "&" are not escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

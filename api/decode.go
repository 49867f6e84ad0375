package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/allot/allot/actors/booking"
)

// Request decoding. Every check here runs before anything is dispatched, so bad input never
// reaches an actor. The split of statuses:
//
//   - 415 unsupported-media-type: Content-Type missing or not application/json (charset=utf-8
//     is the only parameter allowed).
//   - 413 payload-too-large: body over Config.MaxBodyBytes.
//   - 400 malformed: the body is not one JSON object of the documented shape — bad syntax,
//     not UTF-8, trailing data, unknown or duplicate members, wrong JSON types; also an
//     unparsable query string.
//   - 422 invalid: well-formed but unacceptable values — missing required members, ranges,
//     id / bucket key / date / duration formats, duplicate buckets.

// Limits the edge adds to the model's.
const (
	maxEcho  = 64 // bytes of a client value quoted back in a problem detail
	maxDepth = 8  // nesting of JSON objects and arrays in a request body (the schemas need 2)
)

func malformed(format string, args ...any) error {
	return booking.Errorf(booking.CodeMalformed, format, args...)
}

func invalid(format string, args ...any) error {
	return booking.Errorf(booking.CodeInvalid, format, args...)
}

// echo quotes a client value for a problem detail, shortened so that a huge value does not
// come back in full.
func echo(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho] + "..."
	}
	return strconv.QuoteToASCII(s)
}

// readJSONBody checks the Content-Type and reads the body, at most limit bytes.
func readJSONBody(r *http.Request, limit int64) ([]byte, error) {
	return readJSONBodyInto(nil, r, limit)
}

// readJSONBodyInto is readJSONBody reading a body of known length into buf when it fits in
// buf's capacity (its length is ignored), else into a new buffer.
func readJSONBodyInto(buf []byte, r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r.Header.Values("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, &edgeError{kindPayloadTooLarge, fmt.Sprintf("the request body must be at most %d bytes", limit)}
	}
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > 0 {
		// The length is known and within limit (above), and net/http's body ends there: read
		// it into a buffer of its size, not ReadAll's 512 bytes behind a MaxBytesReader (two
		// allocations and most of the bytes of a hold request's body). A body that ends
		// early fails as ReadAll's would.
		var body []byte
		if r.ContentLength <= int64(cap(buf)) {
			body = buf[:r.ContentLength]
		} else {
			body = make([]byte, r.ContentLength)
		}
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, malformed("the request body could not be read")
		}
		// Read to its end (net/http's body reports EOF with its last byte): closing it
		// now tells net/http so, which otherwise checks at WriteHeader for a rest to discard
		// (io.CopyN through io.Discard, a LimitReader: an allocation and the body's lock per
		// request; issue 17, round 13). The connection stays reusable as before.
		_ = r.Body.Close()
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &edgeError{kindPayloadTooLarge, fmt.Sprintf("the request body must be at most %d bytes", limit)}
		}
		return nil, malformed("the request body could not be read")
	}
	return body, nil
}

// checkContentType accepts exactly one Content-Type of application/json, optionally with
// charset=utf-8.
func checkContentType(values []string) error {
	const want = "Content-Type must be application/json"
	if len(values) != 1 {
		return &edgeError{kindUnsupportedMediaType, want}
	}
	if values[0] == "application/json" {
		return nil // what clients send; mime.ParseMediaType would allocate its parameter map
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return &edgeError{kindUnsupportedMediaType, want}
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return &edgeError{kindUnsupportedMediaType, want + " (the only parameter allowed is charset=utf-8)"}
		}
	}
	return nil
}

// decodeStrict decodes body, which must be exactly one JSON object, into v (a pointer to a
// struct). allowed says which member names an object may have: parent is the name of the
// member holding the object ("" for the top level), depth its nesting (0 for the top level).
// Member names are matched exactly (encoding/json alone would match them case-insensitively)
// and may not repeat in any object (encoding/json alone would keep the last).
func decodeStrict(body []byte, v any, allowed func(parent string, depth int, name string) bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("the request body is empty; it must be a JSON object")
	}
	if !utf8.Valid(body) {
		return malformed("the request body is not valid UTF-8")
	}
	if err := checkMembers(body, allowed); err != nil {
		return err
	}
	// Only now is body known to be JSON, so that its strings can be told from the rest.
	if off := loneSurrogate(body); off >= 0 {
		return malformed("the request body has a \\u escape of a lone UTF-16 surrogate (at byte %d); escape a character outside the BMP as a surrogate pair", off)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

// listedMembers is how many member names of one object checkMembers compares one by one
// before it indexes them in a map.
const listedMembers = 16

// checkMembers walks the tokens of body: one JSON object, nothing after it, no duplicate
// member names, and only names that allowed accepts.
//
// The names seen are in one list shared by the open objects (each object's from its first),
// in arrays on the stack while the body is small: a request's objects have a few members,
// and a map per object cost two allocations (48 and 208 bytes; the second is the size class of
// JetStream's subject index nodes, which outlive the requests: docs/PERFORMANCE.md, Round 8).
// An object past listedMembers names gets a map, so that a long one costs no quadratic scan.
func checkMembers(body []byte, allowed func(parent string, depth int, name string) bool) error {
	type frame struct {
		object  bool
		wantKey bool
		key     string              // the member being read, in an object
		first   int                 // the object's first name in names
		seen    map[string]struct{} // the object's names once it has more than listedMembers
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stackBuf [maxDepth]frame
	var namesBuf [listedMembers]string
	stack, names := stackBuf[:0], namesBuf[:0]
	done := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return malformed("the request body ends in the middle of a JSON value")
			}
			return nil
		}
		if err != nil {
			return jsonError(err)
		}
		if done {
			return malformed("the request body has data after the JSON object")
		}
		if len(stack) == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return malformed("the request body must be a JSON object")
			}
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				// empty object or end of members: handled below
			} else {
				name, _ := tok.(string)
				f := &stack[top]
				if f.seen == nil && slices.Contains(names[f.first:], name) {
					return malformed("member %s appears twice", echo(name))
				}
				if _, dup := f.seen[name]; dup {
					return malformed("member %s appears twice", echo(name))
				}
				switch {
				case f.seen != nil:
					f.seen[name] = struct{}{}
				case len(names)-f.first < listedMembers:
					names = append(names, name)
				default: // index the object's names; inner objects' come after them
					f.seen = make(map[string]struct{}, 2*listedMembers)
					for _, n := range names[f.first:] {
						f.seen[n] = struct{}{}
					}
					f.seen[name] = struct{}{}
					names = names[:f.first]
				}
				parent := ""
				if top > 0 {
					if stack[top-1].object {
						parent = stack[top-1].key
					} else {
						parent = "[]"
					}
				}
				if !allowed(parent, top, name) {
					if parent == "" {
						return malformed("unknown member %s", echo(name))
					}
					return malformed("unknown member %s in %s", echo(name), echo(parent))
				}
				stack[top].key = name
				stack[top].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) == maxDepth {
				return malformed("the request body is nested more than %d levels deep", maxDepth)
			}
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: tok == json.Delim('{'), first: len(names)})
			continue
		case json.Delim('}'), json.Delim(']'):
			names = names[:stack[len(stack)-1].first] // an object's names are the list's last
			stack = stack[:len(stack)-1]
		}
		// A value has ended (a scalar, or a closed object or array).
		if len(stack) == 0 {
			done = true
		} else if stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// loneSurrogate returns the offset of the first \u escape in a JSON string of body that
// encodes half of a UTF-16 surrogate pair without its other half (\ud800 alone, or \udc00
// not after a high one), or -1. encoding/json silently decodes those to U+FFFD, so a client
// would store a character it did not send. body must be valid JSON: outside strings no
// backslash occurs, and inside them every backslash starts an escape.
func loneSurrogate(body []byte) int {
	inString := false
	pendingHigh := -1 // offset of a high surrogate escape that needs a low one next
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch {
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(body) && body[i+1] == 'u' && i+6 <= len(body):
			v, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
			if err != nil {
				return i // cannot happen in valid JSON
			}
			switch {
			case v >= 0xd800 && v <= 0xdbff:
				if pendingHigh >= 0 {
					return pendingHigh
				}
				pendingHigh = i
			case v >= 0xdc00 && v <= 0xdfff:
				if pendingHigh < 0 {
					return i
				}
				pendingHigh = -1
			default:
				if pendingHigh >= 0 {
					return pendingHigh
				}
			}
			i += 5
			continue
		case c == '\\':
			i++ // a one-character escape: skip what it escapes (it may be a quote)
		}
		if pendingHigh >= 0 {
			return pendingHigh // the high surrogate was followed by something other than \u
		}
	}
	return pendingHigh
}

// jsonError turns an encoding/json error into a 400 malformed error that says where.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return malformed("the request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return malformed("the request body must be a JSON object")
		}
		return malformed("%s must be %s, not %s", field, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return malformed("the request body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return malformed("unknown member %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return malformed("the request body is not valid JSON")
	}
}

// jsonKind names the JSON type a Go type decodes from, for error details.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "another type"
	}
}

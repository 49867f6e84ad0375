package postgres

import (
	"unsafe"

	"github.com/jackc/pgx/v5/pgtype"
)

// textArray is a []string sent as a TEXT[] parameter, element by element without an
// allocation: pgx encodes a plain []string through an interface holding each string, one
// allocation per element, which was a tenth of a durable hold's allocations (the commit
// sends a batch's holds, keys and events as a dozen text arrays; int8Array does the same
// for numbers). Index hands out a pointer
// into the slice instead, which fits in an interface as it is. The slice must not change
// while a query that uses it is being encoded.
type textArray []string

// textElem is one element of a textArray: never NULL.
type textElem string

func (e *textElem) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*e), Valid: true}, nil
}

func (a textArray) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a), a == nil) }
func (a textArray) Index(i int) any                     { return (*textElem)(&a[i]) }
func (a textArray) IndexType() any                      { return new(textElem) }

// bytesTextArray is a [][]byte of UTF-8 text (the events' JSON) sent as a TEXT[] parameter,
// without the copy of each element into a string that a textArray needs; never NULL.
type bytesTextArray [][]byte

// bytesTextElem is one element of a bytesTextArray.
type bytesTextElem []byte

// TextValue lends the bytes as a string: pgx appends it to its buffer within the call (the
// encode plan of a TEXT element), so the string does not outlive the bytes it reads, which
// do not change while the query is encoded (see textArray).
func (e *bytesTextElem) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: unsafe.String(unsafe.SliceData(*e), len(*e)), Valid: true}, nil
}

func (a bytesTextArray) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a), a == nil) }
func (a bytesTextArray) Index(i int) any                     { return (*bytesTextElem)(&a[i]) }
func (a bytesTextArray) IndexType() any                      { return new(bytesTextElem) }

// byteaArray is a [][]byte sent as a BYTEA[] parameter, a nil element as NULL, without the
// reflection (and an allocation per element) pgx uses for slices of slices.
type byteaArray [][]byte

// byteaElem is one element of a byteaArray.
type byteaElem []byte

func (e *byteaElem) BytesValue() ([]byte, error) { return *e, nil }

func (a byteaArray) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a), a == nil) }
func (a byteaArray) Index(i int) any                     { return (*byteaElem)(&a[i]) }
func (a byteaArray) IndexType() any                      { return new(byteaElem) }

// int8Array is a []int64 sent as an INT8[] parameter without an allocation per element
// (pgx boxes each int64 of a []int64, which allocates for every value over 255: times in
// milliseconds, versions, quantities).
type int8Array []int64

// int8Elem is one element of an int8Array: never NULL.
type int8Elem int64

func (e *int8Elem) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*e), Valid: true}, nil
}

func (a int8Array) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a), a == nil) }
func (a int8Array) Index(i int) any                     { return (*int8Elem)(&a[i]) }
func (a int8Array) IndexType() any                      { return new(int8Elem) }

// dimensions describes a one-dimensional array of n elements (nil: a NULL array).
func dimensions(n int, null bool) []pgtype.ArrayDimension {
	if null {
		return nil
	}
	return []pgtype.ArrayDimension{{Length: int32(n), LowerBound: 1}}
}

var (
	_ pgtype.ArrayGetter = textArray(nil)
	_ pgtype.ArrayGetter = byteaArray(nil)
	_ pgtype.ArrayGetter = bytesTextArray(nil)
	_ pgtype.ArrayGetter = int8Array(nil)
)

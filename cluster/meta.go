package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// metaVersion is the first byte of the gossiped node metadata. Bump it on any layout
// change; decodeMeta rejects versions it does not know.
const metaVersion = 1

const (
	metaFlagClient  = 1 << 0
	metaFlagLeaving = 1 << 1 // set just before a graceful leave (see Provider.Shutdown)
)

// nodeMeta is what each member gossips as memberlist node metadata.
//
// Layout (version 1), all integers unsigned varints:
//
//	version byte | flags byte | len id | id | len remoteAddr | remoteAddr |
//	activations | kind count | (len kind | kind)*
//
// memberlist caps metadata at memberlist.MetaMaxSize (512) bytes; encodedMaxLen lets the
// Provider reject a configuration that could exceed it before joining.
type nodeMeta struct {
	ID          string
	RemoteAddr  string
	Client      bool
	Leaving     bool
	Activations int
	Kinds       []string
}

var errBadMeta = errors.New("malformed node metadata")

func (m nodeMeta) encode() []byte {
	buf := make([]byte, 0, m.encodedMaxLen())
	buf = append(buf, metaVersion)
	var flags byte
	if m.Client {
		flags |= metaFlagClient
	}
	if m.Leaving {
		flags |= metaFlagLeaving
	}
	buf = append(buf, flags)
	buf = appendString(buf, m.ID)
	buf = appendString(buf, m.RemoteAddr)
	act := m.Activations
	if act < 0 {
		act = 0
	}
	buf = binary.AppendUvarint(buf, uint64(act))
	buf = binary.AppendUvarint(buf, uint64(len(m.Kinds)))
	for _, k := range m.Kinds {
		buf = appendString(buf, k)
	}
	return buf
}

// encodedMaxLen is the encoded size with the largest possible activation count, i.e. an
// upper bound of encode's length for any activation count.
func (m nodeMeta) encodedMaxLen() int {
	n := 2 + strLen(m.ID) + strLen(m.RemoteAddr) + binary.MaxVarintLen64 +
		uvarintLen(uint64(len(m.Kinds)))
	for _, k := range m.Kinds {
		n += strLen(k)
	}
	return n
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) < 2 {
		return m, fmt.Errorf("%w: %d bytes", errBadMeta, len(b))
	}
	if b[0] != metaVersion {
		return m, fmt.Errorf("%w: unknown version %d", errBadMeta, b[0])
	}
	m.Client = b[1]&metaFlagClient != 0
	m.Leaving = b[1]&metaFlagLeaving != 0
	r := metaReader{b: b[2:]}
	m.ID = r.str()
	m.RemoteAddr = r.str()
	act := r.uvarint()
	if act > math.MaxInt32 {
		r.err = true
	}
	m.Activations = int(act)
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each kind takes at least one byte
		r.err = true
	}
	if !r.err && n > 0 {
		m.Kinds = make([]string, 0, n)
		for i := uint64(0); i < n && !r.err; i++ {
			m.Kinds = append(m.Kinds, r.str())
		}
	}
	if r.err || len(r.b) != 0 {
		return nodeMeta{}, errBadMeta
	}
	if m.ID == "" {
		return nodeMeta{}, fmt.Errorf("%w: empty member id", errBadMeta)
	}
	return m, nil
}

type metaReader struct {
	b   []byte
	err bool
}

func (r *metaReader) uvarint() uint64 {
	if r.err {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func uvarintLen(v uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], v)
}

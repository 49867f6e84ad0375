package webhooks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// DeliveryID is the id of the delivery of event eventID to endpoint endpointID: derived, so
// that recording a redelivered event finds the delivery it recorded before, and a function
// of (endpoint, event) only, one id each.
//
// Its shape is why deliveries are cheap to store on SQLite. For an event id as events.ID
// makes it ("resource/version/index", the numbers in canonical decimal) it is a hash of the
// endpoint and the resource (96 bits, as much as the whole id had before), then the version
// in 16 hex digits and the index in 4 (8 when it does not fit), so that one resource's
// deliveries to one endpoint sort by version: the ids are the primary key of
// webhook_deliveries and lead the one of webhook_attempts, and with a hash of the whole event
// a batch of N deliveries inserted (and their attempts recorded) touched about N leaf pages
// of each of those B-trees, each page a WAL frame of the group commit; in version order a hot
// resource's batch appends to one or two (docs/EVENTS.md, Cost). Any other event id gets the
// hash of the whole event, 24 hex digits, as every id had before: a different length, so
// never equal to an id of the first shape. Ids stored by an earlier build keep their shape:
// a redelivered event finds its delivery by (endpoint, event), the table's UNIQUE key.
func DeliveryID(endpointID, eventID string) string {
	h := sha256.New()
	h.Write([]byte(endpointID))
	h.Write([]byte{0})
	rid, version, index, ok := splitEventID(eventID)
	if !ok {
		h.Write([]byte(eventID))
		return "dlv_" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	h.Write([]byte(rid))
	b := make([]byte, 0, 4+24+16+8)
	b = append(b, "dlv_"...)
	b = hex.AppendEncode(b, h.Sum(nil)[:12])
	b = appendHex(b, version, 16)
	w := 4
	if index > 0xffff {
		w = 8
	}
	return string(appendHex(b, index, w))
}

// splitEventID splits an event id made by events.ID into its resource, version and index;
// ok is false for any other string, including numbers not in canonical decimal (so that
// two ids never split alike).
func splitEventID(id string) (rid string, version, index uint64, ok bool) {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(id[:i], '/')
	if j < 0 {
		return "", 0, 0, false
	}
	v, err := strconv.ParseUint(id[j+1:i], 10, 64)
	if err != nil || strconv.FormatUint(v, 10) != id[j+1:i] {
		return "", 0, 0, false
	}
	x, err := strconv.ParseUint(id[i+1:], 10, 32)
	if err != nil || strconv.FormatUint(x, 10) != id[i+1:] {
		return "", 0, 0, false
	}
	return id[:j], v, x, true
}

// appendHex appends v in w lowercase hex digits, zero-padded.
func appendHex(b []byte, v uint64, w int) []byte {
	s := strconv.FormatUint(v, 16)
	for range w - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// newEndpointID returns a fresh random endpoint id.
func newEndpointID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "we_" + hex.EncodeToString(b)
}

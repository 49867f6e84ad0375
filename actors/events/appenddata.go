package events

// AppendData appends e's Data, the bytes Encode(e) puts in Record.Data, to dst and returns
// the extended buffer. A store that writes a batch's events encodes them all into one buffer
// it reuses from commit to commit (issue 17, CPU per hold: the after-image's own buffer, the
// record and its id were a twentieth of a durable hold's bytes allocated).
//
// Invariant (TestAppendDataMatchesEncode, randomized): for every event, the bytes appended
// are Encode(e)'s Data, and an event Encode refuses is refused with the same error; dst's
// bytes before len(dst) are left as they are.
func AppendData(dst []byte, e *Event) ([]byte, error) {
	if e.Hold != nil {
		hd := holdData(e.Hold)
		hd.Payment = e.Payment
		if e.Type == HoldRefunded && e.Payment != nil {
			hd.Refund = &Money{Amount: e.Payment.Amount, Currency: e.Payment.Currency}
		}
		if b, ok := appendHoldData(dst, &hd); ok { // holdjson.go
			return b, nil
		}
	}
	// Everything appendHoldData leaves to encoding/json: Encode's own path, rarely taken on
	// the hot path (resource and bucket changes, escaped strings).
	r, err := Encode(e)
	if err != nil {
		return dst, err
	}
	return append(dst, r.Data...), nil
}

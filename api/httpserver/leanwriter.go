package httpserver

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// leanMaxBuffered is how much of an answer the fast path holds to send with its head in one
// write; a longer answer is streamed and closes the connection.
const leanMaxBuffered = 64 << 10

// errLeanDone is the error of a write after the handler returned.
var errLeanDone = errors.New("httpserver: write after the handler returned")

// leanWriter is a fast-path request's http.ResponseWriter. As net/http's, the header fields
// are taken when the status is written (later changes to the map are not sent), Date and
// Content-Length are added when the handler set none, and Content-Type is sniffed from the
// body when the handler set no such field; field names that are not tokens are dropped and
// CR or LF in a value become spaces (no response splitting).
type leanWriter struct {
	c         *leanConn
	h         http.Header
	status    int
	head      []byte // status line and the handler's fields, without the end of the head
	haveType  bool   // the handler set Content-Type (even empty: then nothing is sniffed)
	haveDate  bool
	declared  int64 // the handler's Content-Length, -1 if none
	closeConn bool  // the handler asked for Connection: close
	buf       []byte
	written   int64
	streaming bool
	done      bool
	err       error
}

func (w *leanWriter) Header() http.Header { return w.h }

func (w *leanWriter) WriteHeader(code int) {
	if w.done || w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code)) // as net/http
	}
	if code < 200 {
		return // 1xx answers are not offered on the fast path
	}
	w.status = code
	b := append(w.head[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	b = append(b, "\r\n"...)
	var keys [16]string
	ks := keys[:0]
	for k := range w.h {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		vs := w.h[k]
		switch k {
		case "Content-Type":
			w.haveType = true
		case "Date":
			w.haveDate = true
		case "Transfer-Encoding", "Trailer":
			continue // the fast path frames answers with Content-Length only
		case "Content-Length":
			if len(vs) > 0 {
				if n := digits(strings.TrimSpace(vs[0])); n >= 0 {
					w.declared = n
				}
			}
			if w.declared < 0 || !bodyAllowed(code) {
				continue
			}
		case "Connection":
			for _, v := range vs {
				if strings.EqualFold(strings.TrimSpace(v), "close") {
					w.closeConn = true
				}
			}
			continue // written at the end, with the fast path's own decision
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendFieldValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	w.head = b
}

// appendFieldValue appends v with CR and LF replaced by spaces and its ends trimmed, as
// net/http writes a value.
func appendFieldValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			b = append(b, ' ')
		} else {
			b = append(b, c)
		}
	}
	return b
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func (w *leanWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errLeanDone
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.streaming {
		if _, err := w.c.nc.Write(p); err != nil {
			w.err = err
			return 0, err
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > leanMaxBuffered {
		w.streaming = true
		if err := w.send(true); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *leanWriter) WriteString(s string) (int, error) {
	// The handlers' JSON is small; a copy into buf is what Write does anyway.
	return w.Write([]byte(s))
}

// Flush sends what is buffered (the head too); the answer is then streamed and the
// connection closes after it.
func (w *leanWriter) Flush() {
	if w.done || w.streaming || w.err != nil {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.streaming = true
	_ = w.send(true)
}

// send writes the head and the buffered body. Without a Content-Length (streaming) the
// connection ends the body, so it closes after it.
func (w *leanWriter) send(closing bool) error {
	// After the handler's fields, net/http's own, in its order: Date, Content-Length,
	// Content-Type, Connection.
	b := w.head
	if !w.haveDate {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if w.declared < 0 && !w.streaming && bodyAllowed(w.status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.buf)), 10)
		b = append(b, "\r\n"...)
	}
	if !w.haveType && len(w.buf) > 0 && bodyAllowed(w.status) {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.buf)...)
		b = append(b, "\r\n"...)
	}
	if closing || w.closeConn {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, w.buf...)
	if cap(b) <= 2*leanMaxBuffered { // the connection's buffers for the next answer
		w.c.out, w.c.body = b[:0], w.buf[:0]
	}
	w.head, w.buf = nil, nil
	if _, err := w.c.nc.Write(b); err != nil {
		w.err = err
		return err
	}
	return nil
}

// finish ends the answer once the handler returned and reports whether the connection may
// serve another request. closing: it must not (the body was not read to its end, or the
// server shuts down).
func (w *leanWriter) finish(closing bool) bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	defer func() { w.done = true }()
	if w.err != nil {
		return false
	}
	if w.streaming {
		return false
	}
	short := w.declared >= 0 && w.written < w.declared && bodyAllowed(w.status)
	closing = closing || short || w.closeConn
	if err := w.send(closing); err != nil {
		return false
	}
	return !closing
}

package reports

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
)

// StreamObserver counts a view for a connection to a stream route that has a :rid parameter
// (GET /v1/resources/:rid/availability/stream), once per connection, when the stream begins:
// the first time a 200 answer's header goes out (a write or a flush). A stream refused before
// it begins (bad id, unknown resource) is not a view. Unlike Middleware it does not wait for
// the handler, which for a stream returns only when the connection ends: it wraps the
// response writer and lets the chain go on, so it must come before the stream's handler.
func (v *Views) StreamObserver() gin.HandlerFunc {
	return func(c *gin.Context) {
		rid := c.Param("rid")
		w := &viewWriter{ResponseWriter: c.Writer}
		w.count = func() { v.Record(rid, v.cfg.Subject(c)) }
		c.Writer = w
	}
}

// viewWriter calls count once, when a 200 answer's header is first written.
type viewWriter struct {
	gin.ResponseWriter
	count func()
	once  sync.Once
}

func (w *viewWriter) begun() {
	if w.Status() == http.StatusOK {
		w.once.Do(w.count)
	}
}

func (w *viewWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.begun()
	return n, err
}

func (w *viewWriter) WriteString(s string) (int, error) {
	n, err := w.ResponseWriter.WriteString(s)
	w.begun()
	return n, err
}

func (w *viewWriter) WriteHeaderNow() {
	w.ResponseWriter.WriteHeaderNow()
	w.begun()
}

func (w *viewWriter) Flush() {
	w.ResponseWriter.Flush()
	w.begun()
}

// Unwrap lets http.ResponseController reach the connection (write deadlines) through it.
func (w *viewWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

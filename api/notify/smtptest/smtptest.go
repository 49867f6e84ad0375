// Package smtptest is an in-process SMTP server (github.com/emersion/go-smtp) on 127.0.0.1
// that keeps what it receives, and a MIME walker that takes a received notification apart
// (text, HTML, the text/calendar alternative, the invite.ics attachment). The notify
// package's tests and the node's end-to-end tests (cmd) share it; it is not linked into the
// binary.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/allot/allot/api/certreload/certtest"
)

// Message is one message as the server took it.
type Message struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool
	AuthAs string
	At     time.Time // when DATA completed
	// Session numbers the SMTP session (connection) that took it, from 1 in the order they
	// opened: messages of one session share it.
	Session int
}

// Options choose STARTTLS or implicit TLS (with a certificate of a throwaway CA) and PLAIN
// authentication (User and Pass required when User is set).
type Options struct {
	StartTLS, ImplicitTLS bool
	User, Pass            string
	// ArrivedBuffer is the capacity of Server.Arrived (default 64).
	ArrivedBuffer int
}

// Server is a running server; it stops when the test ends. Safe for concurrent use.
type Server struct {
	Addr string
	Port int
	// Clients trusts the server's CA (nil without TLS).
	Clients *tls.Config
	// Arrived gets a value per message taken (dropped when it is full).
	Arrived chan struct{}

	srv      *smtp.Server
	mu       sync.Mutex
	msgs     []Message
	refuse   *smtp.SMTPError
	sessions []*smtp.Conn
}

// New starts a server on 127.0.0.1 on a free port.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ArrivedBuffer <= 0 {
		o.ArrivedBuffer = 64
	}
	s := &Server{Arrived: make(chan struct{}, o.ArrivedBuffer)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := slices.Index(s.sessions, c) + 1 // after STARTTLS the connection starts a session again
		if n == 0 {
			s.sessions = append(s.sessions, c)
			n = len(s.sessions)
		}
		return &session{s: s, conn: c, o: o, n: n}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.StartTLS || o.ImplicitTLS {
		ca := certtest.NewCA(t, "smtp test CA")
		certPEM, keyPEM := ca.Issue(t, certtest.Leaf{Serial: 2, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true})
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		s.Clients = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if o.ImplicitTLS {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	srv.AllowInsecureAuth = !o.StartTLS && !o.ImplicitTLS
	s.srv = srv
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// Messages returns what the server took so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Sessions returns how many SMTP sessions (connections) were opened so far.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// DropSessions closes every session's connection, as a server that times idle clients out
// does.
func (s *Server) DropSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sessions {
		_ = c.Close()
	}
}

// Refuse makes DATA answer e from now on (nil: accept again).
func (s *Server) Refuse(e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = e
}

// Reply is an SMTP refusal with code (4xx transient, 5xx permanent).
func Reply(code int) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "test refusal"}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	n      int
	o      Options
	from   string
	to     []string
	authAs string
}

func (x *session) AuthMechanisms() []string {
	if x.o.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.o.User || pass != x.o.Pass {
			return errors.New("bad credentials")
		}
		x.authAs = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.o.User != "" && x.authAs == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.refuse != nil {
		return x.s.refuse
	}
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Data: b, TLS: isTLS, AuthAs: x.authAs, At: time.Now(), Session: x.n})
	select {
	case x.s.Arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// Mail is a received message taken apart.
type Mail struct {
	MessageID, Subject, To string
	Text, HTML             string
	Calendar               string // the text/calendar alternative
	CalendarMethod         string // its Content-Type's method parameter
	Attachment             string // invite.ics
}

// ParseMail walks the MIME tree of a received message.
func ParseMail(t testing.TB, raw []byte) Mail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	p := Mail{MessageID: m.Header.Get("Message-Id"), Subject: subj, To: m.Header.Get("To")}
	walkPart(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body, &p)
	return p
}

func walkPart(t testing.TB, ctype, cte, disp string, body io.Reader, p *Mail) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("content type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			walkPart(t, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part, p)
		}
	}
	data := decodeBody(t, cte, body)
	switch {
	case strings.HasPrefix(disp, "attachment"):
		p.Attachment = data
	case mt == "text/plain":
		p.Text = data
	case mt == "text/html":
		p.HTML = data
	case mt == "text/calendar":
		p.Calendar, p.CalendarMethod = data, params["method"]
	}
}

func decodeBody(t testing.TB, cte string, r io.Reader) string {
	t.Helper()
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, stripNewlines{r})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return string(b)
}

// stripNewlines drops CR and LF so a wrapped base64 body decodes.
type stripNewlines struct{ r io.Reader }

func (s stripNewlines) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}

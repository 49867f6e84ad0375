package notify_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/allot/allot/api/certreload/certtest"
)

// received is one message as the test SMTP server took it.
type received struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool
	AuthAs string
	At     time.Time // when DATA completed
}

// smtpServer is an in-process SMTP server (emersion/go-smtp) on 127.0.0.1 that keeps what it
// receives. Optional: STARTTLS (or implicit TLS) with a certificate of a throwaway CA, PLAIN
// authentication, and a reply to refuse DATA with.
type smtpServer struct {
	addr    string
	port    int
	srv     *smtp.Server
	clients *tls.Config // trusts the server's CA

	mu     sync.Mutex
	msgs   []received
	refuse *smtp.SMTPError
	// arrived gets a value per message taken (dropped when nobody waits and it is full).
	arrived chan struct{}
}

type smtpOpts struct {
	startTLS, implicitTLS bool
	user, pass            string
}

func newSMTPServer(t testing.TB, o smtpOpts) *smtpServer {
	t.Helper()
	s := &smtpServer{arrived: make(chan struct{}, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c, o: o}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = nopLogger{}
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.startTLS || o.implicitTLS {
		ca := certtest.NewCA(t, "smtp test CA")
		certPEM, keyPEM := ca.Issue(t, certtest.Leaf{Serial: 2, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true})
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		s.clients = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if o.implicitTLS {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	srv.AllowInsecureAuth = !o.startTLS && !o.implicitTLS
	s.srv = srv
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) setRefuse(e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = e
}

type session struct {
	s      *smtpServer
	conn   *smtp.Conn
	o      smtpOpts
	from   string
	to     []string
	authAs string
}

func (x *session) AuthMechanisms() []string {
	if x.o.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.o.user || pass != x.o.pass {
			return errors.New("bad credentials")
		}
		x.authAs = user
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.o.user != "" && x.authAs == "" {
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
	x.s.msgs = append(x.s.msgs, received{From: x.from, To: x.to, Data: b, TLS: isTLS, AuthAs: x.authAs, At: time.Now()})
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// parsedMail is a received message taken apart.
type parsedMail struct {
	MessageID, Subject, To string
	Text, HTML             string
	Calendar               string // the text/calendar alternative
	CalendarMethod         string // its Content-Type's method parameter
	Attachment             string // invite.ics
}

// parseMail walks the MIME tree of a received message.
func parseMail(t testing.TB, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	p := parsedMail{MessageID: m.Header.Get("Message-Id"), Subject: subj, To: m.Header.Get("To")}
	walkPart(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body, &p)
	return p
}

func walkPart(t testing.TB, ctype, cte, disp string, body io.Reader, p *parsedMail) {
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
		r = quotedPrintable(r)
	case "base64":
		r = base64Reader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return string(b)
}

func smtpErr(code int) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "test refusal"}
}

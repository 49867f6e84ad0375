package notify_test

import (
	"crypto/tls"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/allot/allot/api/notify/smtptest"
)

// The package's tests use the shared in-process SMTP server (smtptest) under these names.
type (
	received   = smtptest.Message
	smtpOpts   = smtptest.Options
	parsedMail = smtptest.Mail
)

type smtpServer struct {
	*smtptest.Server
	addr    string
	port    int
	clients *tls.Config
	arrived chan struct{}
}

func newSMTPServer(t testing.TB, o smtpOpts) *smtpServer {
	t.Helper()
	s := smtptest.New(t, o)
	return &smtpServer{Server: s, addr: s.Addr, port: s.Port, clients: s.Clients, arrived: s.Arrived}
}

func (s *smtpServer) messages() []received        { return s.Messages() }
func (s *smtpServer) setRefuse(e *smtp.SMTPError) { s.Refuse(e) }

func parseMail(t testing.TB, raw []byte) parsedMail { return smtptest.ParseMail(t, raw) }

func smtpErr(code int) *smtp.SMTPError { return smtptest.Reply(code) }

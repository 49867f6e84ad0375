package notify_test

import (
	"testing"

	"github.com/allot/allot/api/notify/fcmtest"
)

// The package's tests use the shared FCM v1 server (fcmtest) under these names.
type fcmMessage = fcmtest.Message

type fcmServer struct {
	*fcmtest.Server
	url string
}

func newFCMServer(t *testing.T, project string) *fcmServer {
	t.Helper()
	s := fcmtest.New(t, project)
	return &fcmServer{Server: s, url: s.URL}
}

func (f *fcmServer) unregister(token string)               { f.Unregister(token) }
func (f *fcmServer) messages() []fcmMessage                { return f.Messages() }
func (f *fcmServer) serviceAccountKey(t *testing.T) []byte { return f.ServiceAccountKey(t) }

package pgtest

import (
	"context"
	"strings"
	"testing"
)

// A server given a listen address is reachable there, and URL names that address.
func TestListenAddrAndTrustCIDR(t *testing.T) {
	s := MustNewServerWith(t, Options{ListenAddr: "127.0.0.2", TrustCIDR: "127.0.0.0/8"})
	url := s.MustDatabase(t)
	if !strings.Contains(url, "@127.0.0.2:") {
		t.Fatalf("URL %q does not name the listen address", url)
	}
	conn := connect(t, url)
	var addr string
	if err := conn.QueryRow(context.Background(), "SELECT host(inet_server_addr())").Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.2" {
		t.Fatalf("connected to %s, want 127.0.0.2", addr)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{ListenAddr: "nope", TrustCIDR: "10.0.0.0/8"}, {ListenAddr: "10.0.0.1"}, {TrustCIDR: "10.0.0.0/8"}} {
		if o.validate() == nil {
			t.Errorf("%+v: validate accepted it", o)
		}
	}
	if err := (Options{}).validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
}

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"

	"github.com/allot/allot/api/certreload/certtest"
)

// TestRemoteServesOverMutualTLS starts a protoactor remote configured exactly as Node will
// (remote.Configure with RemoteOptions) and calls its gRPC service as a peer would. Only one
// remote runs in this process: protoactor's Remote.Start writes grpc-go's global logger, which
// races with any other remote's goroutines (see node_proc_test.go); the dial side of
// RemoteOptions is the DialOption that TestPeerMutualTLS checks.
func TestRemoteServesOverMutualTLS(t *testing.T) {
	clusterCA, otherCA := certtest.NewCA(t, "allot cluster CA"), certtest.NewCA(t, "some other CA")
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	r := remote.NewRemote(sys, remote.Configure("127.0.0.1", 0, loadPeer(t, peerFiles(t, clusterCA, clusterCA, 1)).RemoteOptions()...))
	r.Start()
	t.Cleanup(func() {
		r.Shutdown(false)
		sys.Shutdown()
	})
	// connect does what a peer's endpoint writer does first: open the Receive stream, send a
	// ConnectRequest and wait for the ConnectResponse.
	connect := func(dial grpc.DialOption) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, err := grpc.DialContext(ctx, sys.Address(), dial)
		if err != nil {
			return err
		}
		defer conn.Close()
		stream, err := remote.NewRemotingClient(conn).Receive(ctx)
		if err != nil {
			return err
		}
		err = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
			ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
				ServerConnection: &remote.ServerConnection{SystemId: "peer-test", Address: "127.0.0.1:1"},
			}},
		}})
		if err != nil {
			return err
		}
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		if resp := msg.GetConnectResponse(); resp == nil || resp.GetMemberId() != sys.ID {
			return fmt.Errorf("unexpected answer %v", msg)
		}
		return stream.CloseSend()
	}
	if err := connect(loadPeer(t, peerFiles(t, clusterCA, clusterCA, 2)).DialOption()); err != nil {
		t.Fatalf("a peer with a cluster certificate: %v", err)
	}
	if err := connect(loadPeer(t, peerFiles(t, clusterCA, otherCA, 3)).DialOption()); err == nil {
		t.Fatal("a peer with a certificate from another CA was served")
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

var pushDelay = flag.Duration("push-gateway-delay", 0, "send: configure push through a gateway in this process that answers after this delay, and give each conversation a third member who is offline with a device, so that every message is pushed (0: push off)")

// slowGateway is a push gateway in gorush's format that takes its time
// to answer: a provider that is slow (or down) must never slow a send.
type slowGateway struct {
	URL      string
	received atomic.Int64
	srv      *http.Server
}

func startSlowGateway(delay time.Duration) (*slowGateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &slowGateway{URL: fmt.Sprintf("http://%s/api/push", ln.Addr())}
	g.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		g.received.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"counts":1,"logs":[],"success":"ok"}`)
	})}
	go g.srv.Serve(ln)
	return g, nil
}

func (g *slowGateway) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	g.srv.Shutdown(ctx)
	g.srv.Close()
}

// RegisterDevice registers an android device for the token's client.
func (c *Client) RegisterDevice(ctx context.Context, token, deviceToken string) error {
	return c.Call(ctx, http.MethodPost, "/v1/devices", token, map[string]string{"platform": "android", "token": deviceToken}, nil, http.StatusOK)
}

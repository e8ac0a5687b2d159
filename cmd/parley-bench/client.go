package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client talks to one server. Requests share a keep-alive pool sized for
// the concurrency; every event stream has a connection of its own.
type Client struct {
	Base      string
	MasterKey string
	HTTP      *http.Client // requests
	Streams   *http.Client // long-lived event streams
}

func newTransport(idle int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
}

func newClient(base, masterKey string, concurrency int) *Client {
	return &Client{
		Base:      strings.TrimRight(base, "/"),
		MasterKey: masterKey,
		HTTP:      &http.Client{Transport: newTransport(2*concurrency + 64), Timeout: 60 * time.Second},
		Streams:   &http.Client{Transport: newTransport(4)},
	}
}

// Close drops idle connections.
func (c *Client) Close() {
	c.HTTP.CloseIdleConnections()
	c.Streams.CloseIdleConnections()
}

// Call makes one JSON request as the holder of token (or, with token
// "master", the master key), expects status want and decodes the answer
// into out (when not nil).
func (c *Client) Call(ctx context.Context, method, path, token string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req, token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (c *Client) authorize(req *http.Request, token string) {
	switch token {
	case "":
	case "master":
		req.Header.Set("X-Master-Key", c.MasterKey)
	default:
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

// Login opens a session for clientID (open auth mode) and returns its token.
func (c *Client) Login(ctx context.Context, clientID string) (string, error) {
	var res struct {
		Token string `json:"token"`
	}
	err := c.Call(ctx, http.MethodPost, "/v1/sessions", "", map[string]string{"clientId": clientID}, &res, http.StatusCreated)
	return res.Token, err
}

// LoginAll logs in every client, a few at a time, and returns their tokens.
func (c *Client) LoginAll(ctx context.Context, ids []string) ([]string, error) {
	start := time.Now()
	tokens := make([]string, len(ids))
	err := parallel(ctx, len(ids), 32, func(i int) error {
		var err error
		tokens[i], err = c.Login(ctx, ids[i])
		return err
	})
	if err == nil {
		progress("logged in %d clients in %s", len(ids), time.Since(start).Round(time.Millisecond))
	}
	return tokens, err
}

// CreateConversation creates a normal conversation of the caller and the
// other members and returns its id.
func (c *Client) CreateConversation(ctx context.Context, token string, members []string) (string, error) {
	var res struct {
		ID string `json:"id"`
	}
	err := c.Call(ctx, http.MethodPost, "/v1/conversations", token,
		map[string]any{"members": members, "name": "parley-bench"}, &res, http.StatusCreated)
	return res.ID, err
}

// parallel runs fn(0..n-1) on at most workers goroutines and returns the
// first error (the others stop taking work).
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

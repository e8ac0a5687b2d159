// Package push sends one offline push notification to one device token,
// through APNs (HTTP/2, .p8 token auth), FCM (HTTP v1, service account) or a
// gateway in gorush's format. It knows nothing of conversations, outboxes or
// retries: the push worker decides who gets what and when to try again; a
// Provider only says how one attempt went (Result), so that the worker can
// unregister a dead token, retry a temporary failure, or give up.
//
// Providers are safe for concurrent use; Send blocks for at most the
// context's deadline (or the HTTP client's timeout, 30 s by default) and
// never retries by itself. push/pushtest has local fakes of the three
// services for tests.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Notification is what one device gets.
type Notification struct {
	Token    string
	Platform string // "ios" or "android"
	// Payload is the push content as API.md says: "alert" (a string or
	// {"title","body"}), "badge" (a number: "Increment" is resolved before
	// Send), "sound", "_profile" ("dev": APNs sandbox, gorush
	// development:true); any other key is custom data for the app.
	Payload map[string]any
	ConvID  string // groups an app's notifications by conversation (APNs thread-id)
	ID      string // a stable id of the notification, may be ""; sent as apns-id when it is a UUID
}

// Result of one send.
type Result struct {
	Dead       bool          // the provider says the token is dead: unregister it
	Retry      bool          // temporary failure (timeout, network, 429, 5xx): try again later
	RetryAfter time.Duration // from the provider's Retry-After header, else 0
	Err        error         // nil on success; permanent when !Retry && !Dead
}

// Provider sends notifications through one push service.
type Provider interface {
	Name() string        // "apns", "fcm", "gateway" (a metrics label)
	Platforms() []string // the platforms it serves
	Send(ctx context.Context, n Notification) Result
}

// Platforms.
const (
	IOS     = "ios"
	Android = "android"
)

// defaultTimeout bounds a send whose context has no deadline, so that a
// provider that never answers cannot hold a worker for ever.
const defaultTimeout = 30 * time.Second

// maxBody caps what is read of an answer: error bodies are small, and a
// misbehaving endpoint must not make us buffer megabytes.
const maxBody = 64 << 10

// content is a Payload taken apart once, for every provider to map.
type content struct {
	alert    any    // as given: a string or an object (APNs takes it whole)
	title    string // the alert's title, "" for a string alert
	body     string // the alert string, or the object's body
	badge    *int
	sound    any // a string, or APNs's critical-alert object
	dev      bool
	custom   map[string]any // every other key
	hasAlert bool
}

func parseContent(p map[string]any) content {
	var c content
	for k, v := range p {
		switch k {
		case "alert":
			switch a := v.(type) {
			case string:
				if a != "" {
					c.alert, c.body, c.hasAlert = a, a, true
				}
			case map[string]any:
				c.alert, c.hasAlert = a, true
				c.title, _ = a["title"].(string)
				c.body, _ = a["body"].(string)
			}
		case "badge":
			if n, ok := toInt(v); ok {
				c.badge = &n
			}
		case "sound":
			if v != nil && v != "" {
				c.sound = v
			}
		case "_profile":
			c.dev = v == "dev"
		default:
			if c.custom == nil {
				c.custom = make(map[string]any)
			}
			c.custom[k] = v
		}
	}
	return c
}

// soundName is the sound as a file name: Android and gorush's Android side
// take only a string; APNs's critical-alert object carries it as "name".
func (c content) soundName() string {
	switch s := c.sound.(type) {
	case string:
		return s
	case map[string]any:
		name, _ := s["name"].(string)
		return name
	}
	return ""
}

// toInt accepts the number forms a badge arrives in: float64 from JSON,
// Go integers from code, json.Number, or a numeric string. Anything else
// (an unresolved "Increment") is no badge rather than a failed push.
func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case int32:
		return int(n), true
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return 0, false
		}
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// networkFailure is the Result of a request that got no answer: whatever
// the cause (deadline, refused connection, reset), the notification may be
// sent again later. A cancelled context is a shutdown, not a verdict on the
// token, so it is a retry too.
func networkFailure(provider string, err error) Result {
	return Result{Retry: true, Err: fmt.Errorf("%s: %w", provider, err)}
}

// httpFailure is the default verdict on an HTTP error status: 429 and 5xx
// are temporary, other statuses permanent.
func httpFailure(provider string, resp *http.Response, detail string) Result {
	err := fmt.Errorf("%s: %s", provider, resp.Status)
	if detail != "" {
		err = fmt.Errorf("%s: %s %s", provider, resp.Status, detail)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return Result{Retry: true, RetryAfter: retryAfter(resp.Header), Err: err}
	}
	return Result{Err: err}
}

// withDefaultTimeout gives ctx a deadline when it has none.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}

// readBody reads at most maxBody of an answer and closes it; reading it to
// the end lets the connection be reused.
func readBody(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return b
}

var errNoToken = errors.New("push: empty device token")

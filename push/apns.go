package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sideshow/apns2/token"
)

// APNs hosts (Apple's "Sending notification requests to APNs").
const (
	APNsProductionURL = "https://api.push.apple.com"
	APNsSandboxURL    = "https://api.sandbox.push.apple.com"
)

// APNsConfig configures NewAPNs.
type APNsConfig struct {
	KeyFile    string       // the .p8 token signing key (PKCS#8 PEM, P-256)
	KeyID      string       // the key's id (the JWT's kid)
	TeamID     string       // the developer team (the JWT's iss)
	Topic      string       // the app's bundle id (apns-topic)
	URL        string       // default APNsProductionURL
	SandboxURL string       // for _profile "dev"; default APNsSandboxURL
	HTTP       *http.Client // default: HTTP/2 only, 30 s timeout; tests pass one that trusts their fake
}

type apns struct {
	tok      *token.Token
	topic    string
	url      string
	sandbox  string
	client   *http.Client
	platform []string
}

// NewAPNs returns a Provider for iOS devices through APNs, authenticating
// with a provider token (ES256 JWT) that apns2/token signs and renews every
// 50 minutes (Apple refuses tokens older than an hour and throttles
// renewals more often than every 20 minutes).
func NewAPNs(cfg APNsConfig) (Provider, error) {
	if cfg.KeyID == "" || cfg.TeamID == "" || cfg.Topic == "" {
		return nil, errors.New("apns: key id, team id and topic are required")
	}
	key, err := token.AuthKeyFromFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("apns: key file %s: %w", cfg.KeyFile, err)
	}
	tok := &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
	// Sign once now: a key that cannot sign fails at start, not on the
	// first push.
	if _, err := tok.Generate(); err != nil {
		return nil, fmt.Errorf("apns: signing with %s: %w", cfg.KeyFile, err)
	}
	a := &apns{
		tok:      tok,
		topic:    cfg.Topic,
		url:      strings.TrimRight(orDefault(cfg.URL, APNsProductionURL), "/"),
		sandbox:  strings.TrimRight(orDefault(cfg.SandboxURL, APNsSandboxURL), "/"),
		client:   cfg.HTTP,
		platform: []string{IOS},
	}
	if a.client == nil {
		a.client = apnsClient()
	}
	return a, nil
}

// apnsClient speaks HTTP/2 only (APNs has no HTTP/1.1), and pings an idle
// connection so that a dead one is noticed before a push is lost on it.
func apnsClient() *http.Client {
	var protos http.Protocols
	protos.SetHTTP2(true)
	return &http.Client{
		Timeout: defaultTimeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			Protocols:           &protos,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     5 * time.Minute,
			HTTP2: &http.HTTP2Config{
				SendPingTimeout: time.Minute,
				PingTimeout:     15 * time.Second,
			},
		},
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (a *apns) Name() string        { return "apns" }
func (a *apns) Platforms() []string { return a.platform }

// apnsBody maps the payload: alert, badge and sound into aps, custom keys
// beside it. A payload with none of the three is a background push
// (content-available, priority 5, which Apple requires for that type).
func apnsBody(c content, n Notification) (body []byte, pushType, priority string, err error) {
	aps := map[string]any{}
	if c.hasAlert {
		aps["alert"] = c.alert
	}
	if c.badge != nil {
		aps["badge"] = *c.badge
	}
	if c.sound != nil {
		aps["sound"] = c.sound
	}
	pushType, priority = "alert", "10"
	if len(aps) == 0 {
		aps["content-available"] = 1
		pushType, priority = "background", "5"
	} else if n.ConvID != "" {
		aps["thread-id"] = n.ConvID
	}
	p := make(map[string]any, len(c.custom)+1)
	for k, v := range c.custom {
		p[k] = v
	}
	p["aps"] = aps // a custom "aps" key cannot replace ours
	body, err = json.Marshal(p)
	return body, pushType, priority, err
}

func (a *apns) Send(ctx context.Context, n Notification) Result {
	if n.Token == "" {
		return Result{Err: errNoToken}
	}
	c := parseContent(n.Payload)
	body, pushType, priority, err := apnsBody(c, n)
	if err != nil {
		return Result{Err: fmt.Errorf("apns: payload: %w", err)}
	}
	host := a.url
	if c.dev {
		host = a.sandbox
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, host+"/3/device/"+url.PathEscape(n.Token), bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("apns: %w", err)}
	}
	req.Header.Set("authorization", "bearer "+a.tok.GenerateIfExpired())
	req.Header.Set("content-type", "application/json")
	req.Header.Set("apns-topic", a.topic)
	req.Header.Set("apns-push-type", pushType)
	req.Header.Set("apns-priority", priority)
	if isUUID(n.ID) {
		// Apple answers 400 BadMessageId to anything but a UUID.
		req.Header.Set("apns-id", n.ID)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return networkFailure("apns", err)
	}
	raw := readBody(resp)
	if resp.StatusCode == http.StatusOK {
		return Result{}
	}
	var answer struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(raw, &answer)
	if answer.Reason == "ExpiredProviderToken" {
		// Our token was refused as too old (a clock step?): sign a new one
		// for the retry.
		a.tok.Lock()
		a.tok.IssuedAt = 0
		a.tok.Unlock()
	}
	r := httpFailure("apns", resp, answer.Reason)
	switch apnsVerdict(answer.Reason) {
	case verdictDead:
		r.Dead, r.Retry = true, false
	case verdictRetry:
		r.Retry = true
	}
	if resp.StatusCode == http.StatusGone {
		r.Dead, r.Retry = true, false
	}
	return r
}

type verdict int

const (
	verdictPermanent verdict = iota
	verdictDead
	verdictRetry
)

// apnsVerdict classifies Apple's reasons ("Handling notification responses
// from APNs"). Dead: Unregistered and ExpiredToken (410: the token is no
// longer active for the topic) and BadDeviceToken (400: the token is
// invalid, or belongs to the other environment — it will never work on the
// host it was sent to). DeviceTokenNotForTopic is not dead: it means the
// topic is wrong, which is the server's misconfiguration as often as the
// token's fault, and taking it for dead would unregister every device of a
// misconfigured server. Temporary: Apple's overload and shutdown reasons,
// idle timeouts, and an expired provider token (renewed for the retry).
// The rest (bad headers, payload too large, refused key) are permanent.
// The gateway uses the same table for gorush's iOS errors, which are these
// reasons.
func apnsVerdict(reason string) verdict {
	switch reason {
	case "Unregistered", "ExpiredToken", "BadDeviceToken":
		return verdictDead
	case "TooManyRequests", "TooManyProviderTokenUpdates", "InternalServerError",
		"ServiceUnavailable", "Shutdown", "IdleTimeout", "ExpiredProviderToken":
		return verdictRetry
	}
	return verdictPermanent
}

// isUUID reports whether s has the canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

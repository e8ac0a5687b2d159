package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// GatewayConfig configures NewGateway.
type GatewayConfig struct {
	URL  string       // the full endpoint, e.g. http://gorush:8088/api/push
	HTTP *http.Client // default a 30 s timeout
}

type gateway struct {
	url      string
	client   *http.Client
	platform []string
}

// NewGateway returns a Provider for both platforms through a push gateway
// that speaks gorush's format (POST {"notifications":[...]}), for vendors'
// channels and anything the built-in providers do not cover.
func NewGateway(cfg GatewayConfig) (Provider, error) {
	if cfg.URL == "" {
		return nil, errors.New("gateway: URL is required")
	}
	client := cfg.HTTP
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	return &gateway{url: cfg.URL, client: client, platform: []string{IOS, Android}}, nil
}

func (g *gateway) Name() string        { return "gateway" }
func (g *gateway) Platforms() []string { return g.platform }

// Gorush's platform numbers.
const (
	gorushIOS     = 1
	gorushAndroid = 2
)

type gorushNotification struct {
	Tokens           []string       `json:"tokens"`
	Platform         int            `json:"platform"`
	Title            string         `json:"title,omitempty"`
	Message          string         `json:"message,omitempty"`
	Badge            *int           `json:"badge,omitempty"`
	Sound            any            `json:"sound,omitempty"`
	Topic            string         `json:"topic,omitempty"`
	Data             map[string]any `json:"data,omitempty"`
	Development      bool           `json:"development,omitempty"`
	ThreadID         string         `json:"thread-id,omitempty"`
	ContentAvailable bool           `json:"content_available,omitempty"`
}

// gatewayBody maps the payload to gorush's fields: an alert string is
// message, {title, body} is title + message, custom keys are data (gorush
// passes them on as APNs custom keys or FCM data), _profile "dev" is
// development. No topic is sent: gorush uses the one it is configured
// with. A payload with nothing to show is sent content_available, a silent
// push on iOS. Android's sound must be a string; iOS's may be APNs's
// critical-alert object.
func gatewayBody(c content, n Notification) ([]byte, error) {
	g := gorushNotification{
		Tokens:      []string{n.Token},
		Platform:    gorushIOS,
		Title:       c.title,
		Message:     c.body,
		Badge:       c.badge,
		Sound:       c.sound,
		Data:        c.custom,
		Development: c.dev,
	}
	if n.Platform == Android {
		g.Platform = gorushAndroid
		if c.sound != nil {
			g.Sound = c.soundName()
		}
	} else if c.hasAlert {
		g.ThreadID = n.ConvID
	}
	if !c.hasAlert && c.badge == nil && c.sound == nil {
		g.ContentAvailable = true
	}
	return json.Marshal(struct {
		Notifications []gorushNotification `json:"notifications"`
	}{[]gorushNotification{g}})
}

// gorushAnswer is gorush's reply. Its logs list the failed tokens only when
// gorush runs with core.sync true; otherwise it answers before sending, and
// a dead token is never learnt through the gateway.
type gorushAnswer struct {
	Logs []struct {
		Type  string `json:"type"`
		Error string `json:"error"`
	} `json:"logs"`
}

func (g *gateway) Send(ctx context.Context, n Notification) Result {
	if n.Token == "" {
		return Result{Err: errNoToken}
	}
	body, err := gatewayBody(parseContent(n.Payload), n)
	if err != nil {
		return Result{Err: fmt.Errorf("gateway: payload: %w", err)}
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("gateway: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return networkFailure("gateway", err)
	}
	raw := readBody(resp)
	if resp.StatusCode/100 != 2 {
		return httpFailure("gateway", resp, strings.TrimSpace(string(raw[:min(len(raw), 200)])))
	}
	var a gorushAnswer
	_ = json.Unmarshal(raw, &a)
	for _, l := range a.Logs {
		if l.Type == "failed-push" {
			// One token per request, so any failure is this token's (gorush
			// may hide the token in its logs).
			return gorushFailure(l.Error)
		}
	}
	return Result{}
}

// gorushFailure classifies the error of a failed-push log entry: for iOS it
// is APNs's reason, classified as APNs's; for Android it is the message of
// the Firebase SDK's error, of which only an unregistered or invalid token
// is recognised (dead); the rest is permanent, since gorush has already
// retried as configured.
func gorushFailure(msg string) Result {
	err := fmt.Errorf("gateway: %s", msg)
	switch apnsVerdict(msg) {
	case verdictDead:
		return Result{Dead: true, Err: err}
	case verdictRetry:
		return Result{Retry: true, Err: err}
	}
	lower := strings.ToLower(msg)
	for _, s := range []string{"requested entity was not found", "registration-token-not-registered", "unregistered", "not a valid fcm registration token"} {
		if strings.Contains(lower, s) {
			return Result{Dead: true, Err: err}
		}
	}
	return Result{Err: err}
}

package push

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// FCMURL is Google's host for FCM's HTTP v1 API.
const FCMURL = "https://fcm.googleapis.com"

// FCMScope is the OAuth2 scope that sending needs.
const FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMConfig configures NewFCM.
type FCMConfig struct {
	CredentialsFile string       // a service account's JSON key (project_id, client_email, private_key, token_uri)
	URL             string       // default FCMURL
	HTTP            *http.Client // for both the token endpoint and FCM; default a 30 s timeout
}

type fcm struct {
	endpoint string // {URL}/v1/projects/{project_id}/messages:send
	tokens   oauth2.TokenSource
	client   *http.Client
	platform []string
}

// NewFCM returns a Provider for Android devices through FCM's HTTP v1 API.
// The bearer token comes from the service account's JWT grant at the key
// file's token_uri, cached and renewed before it expires.
func NewFCM(cfg FCMConfig) (Provider, error) {
	raw, err := os.ReadFile(cfg.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("fcm: credentials: %w", err)
	}
	var file struct {
		ProjectID  string `json:"project_id"`
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return nil, fmt.Errorf("fcm: credentials %s: %w", cfg.CredentialsFile, err)
	}
	if file.ProjectID == "" {
		return nil, fmt.Errorf("fcm: credentials %s: no project_id", cfg.CredentialsFile)
	}
	// oauth2 parses the key only when it first needs a token; a bad key
	// must fail at start instead, so that every later token error can be
	// taken as temporary.
	if err := checkRSAKey(file.PrivateKey); err != nil {
		return nil, fmt.Errorf("fcm: credentials %s: %w", cfg.CredentialsFile, err)
	}
	jc, err := google.JWTConfigFromJSON(raw, FCMScope)
	if err != nil {
		return nil, fmt.Errorf("fcm: credentials %s: %w", cfg.CredentialsFile, err)
	}
	client := cfg.HTTP
	if client == nil {
		client = &http.Client{Timeout: defaultTimeout}
	}
	// The token source keeps this context for every token request it
	// makes: it carries only the HTTP client, no deadline.
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	base := strings.TrimRight(orDefault(cfg.URL, FCMURL), "/")
	return &fcm{
		endpoint: base + "/v1/projects/" + url.PathEscape(file.ProjectID) + "/messages:send",
		tokens:   oauth2.ReuseTokenSource(nil, jc.TokenSource(tctx)),
		client:   client,
		platform: []string{Android},
	}, nil
}

func checkRSAKey(p string) error {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return errors.New("private_key is not PEM")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return fmt.Errorf("private_key: %w", err)
	}
	return nil
}

func (f *fcm) Name() string        { return "fcm" }
func (f *fcm) Platforms() []string { return f.platform }

type fcmMessage struct {
	Token        string            `json:"token"`
	Notification *fcmNotification  `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      *fcmAndroid       `json:"android,omitempty"`
}

type fcmNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type fcmAndroid struct {
	Priority     string                  `json:"priority,omitempty"`
	Notification *fcmAndroidNotification `json:"notification,omitempty"`
}

type fcmAndroidNotification struct {
	Sound             string `json:"sound,omitempty"`
	NotificationCount *int   `json:"notification_count,omitempty"`
}

// fcmBody maps the payload. An alert is a notification message (title,
// body) sent at high priority so that it wakes a dozing device; its badge is
// android.notification.notification_count (the count a launcher shows on
// the app's icon: Android has no badge number of its own), its sound
// android.notification.sound. Without an alert the message is data only
// (FCM would show an android.notification block as an empty notification),
// so badge and sound travel in data as "badge" and "sound" for the app to
// use. Custom keys are data; FCM takes only string values, so other values
// are sent JSON-encoded.
func fcmBody(c content, token string) ([]byte, error) {
	m := fcmMessage{Token: token}
	data := make(map[string]string, len(c.custom)+2)
	for k, v := range c.custom {
		if s, ok := v.(string); ok {
			data[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("data %q: %w", k, err)
		}
		data[k] = string(b)
	}
	sound := c.soundName()
	if c.hasAlert {
		m.Notification = &fcmNotification{Title: c.title, Body: c.body}
		m.Android = &fcmAndroid{Priority: "HIGH"}
		if sound != "" || c.badge != nil {
			m.Android.Notification = &fcmAndroidNotification{Sound: sound, NotificationCount: c.badge}
		}
	} else {
		if c.badge != nil {
			data["badge"] = strconv.Itoa(*c.badge)
		}
		if sound != "" {
			data["sound"] = sound
		}
	}
	if len(data) > 0 {
		m.Data = data
	}
	return json.Marshal(struct {
		Message fcmMessage `json:"message"`
	}{m})
}

func (f *fcm) Send(ctx context.Context, n Notification) Result {
	if n.Token == "" {
		return Result{Err: errNoToken}
	}
	body, err := fcmBody(parseContent(n.Payload), n.Token)
	if err != nil {
		return Result{Err: fmt.Errorf("fcm: payload: %w", err)}
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	tok, r := f.token(ctx)
	if tok == nil {
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("fcm: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	tok.SetAuthHeader(req)
	resp, err := f.client.Do(req)
	if err != nil {
		return networkFailure("fcm", err)
	}
	raw := readBody(resp)
	if resp.StatusCode == http.StatusOK {
		return Result{}
	}
	return fcmFailure(resp, raw)
}

// token gets the bearer token within ctx: the token source does not take a
// context per call (its own is fixed at creation), so a slow token endpoint
// is waited for here. The request goes on in its goroutine until the HTTP
// client's timeout; the token it gets is cached for the next send.
func (f *fcm) token(ctx context.Context) (*oauth2.Token, Result) {
	type got struct {
		tok *oauth2.Token
		err error
	}
	ch := make(chan got, 1)
	go func() {
		t, err := f.tokens.Token()
		ch <- got{t, err}
	}()
	select {
	case <-ctx.Done():
		return nil, networkFailure("fcm: token", ctx.Err())
	case g := <-ch:
		if g.err == nil {
			return g.tok, Result{}
		}
		var re *oauth2.RetrieveError
		if errors.As(g.err, &re) && re.Response != nil {
			// The token endpoint answered: 4xx is refused credentials
			// (permanent until the configuration changes), 429/5xx temporary.
			detail := re.ErrorCode
			if detail == "" {
				detail = strings.TrimSpace(string(re.Body[:min(len(re.Body), 200)]))
			}
			return nil, httpFailure("fcm: token", re.Response, detail)
		}
		// The key was checked at start, so what is left is the network.
		return nil, networkFailure("fcm: token", g.err)
	}
}

// fcmError is FCM v1's error body (google.rpc.Status with FcmError and
// BadRequest details).
type fcmError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// fcmFailure classifies an FCM error ("FCM error codes"). Dead: UNREGISTERED
// (404: the app was uninstalled or the token expired), and INVALID_ARGUMENT
// when it is about the token (a BadRequest violation of "message.token", or
// FCM's "not a valid FCM registration token" message); other
// INVALID_ARGUMENTs are our payload's fault, permanent. SENDER_ID_MISMATCH
// and THIRD_PARTY_AUTH_ERROR are configuration errors, permanent but not
// dead, as are other 4xx. QUOTA_EXCEEDED (429), UNAVAILABLE (503) and
// INTERNAL (500) are temporary, with the Retry-After FCM sends.
func fcmFailure(resp *http.Response, raw []byte) Result {
	var e fcmError
	_ = json.Unmarshal(raw, &e)
	code := e.Error.Status
	tokenArg := strings.Contains(strings.ToLower(e.Error.Message), "registration token")
	for _, d := range e.Error.Details {
		if d.ErrorCode != "" {
			code = d.ErrorCode
		}
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				tokenArg = true
			}
		}
	}
	detail := strings.TrimSpace(code + " " + e.Error.Message)
	r := httpFailure("fcm", resp, detail)
	switch {
	case code == "UNREGISTERED":
		r.Dead, r.Retry = true, false
	case code == "INVALID_ARGUMENT" && tokenArg:
		r.Dead, r.Retry = true, false
	}
	return r
}

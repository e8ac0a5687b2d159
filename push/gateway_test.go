package push_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/push/pushtest"
)

func newGateway(t *testing.T) (*pushtest.Gateway, push.Provider) {
	t.Helper()
	f := pushtest.NewGateway(t)
	p, err := push.NewGateway(f.Config())
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func TestGatewayIOSAlertObjectDev(t *testing.T) {
	f, p := newGateway(t)
	if p.Name() != "gateway" || !reflect.DeepEqual(p.Platforms(), []string{"ios", "android"}) {
		t.Fatalf("name %q platforms %v", p.Name(), p.Platforms())
	}
	r := p.Send(t.Context(), push.Notification{
		Token:    "ios-1",
		Platform: "ios",
		Payload: map[string]any{
			"alert":    map[string]any{"title": "Ann", "body": "hello"},
			"badge":    float64(3),
			"sound":    "default",
			"_profile": "dev",
			"n":        float64(7),
			"obj":      map[string]any{"a": true},
		},
		ConvID: "c1",
	})
	if r != (push.Result{}) {
		t.Fatalf("result %+v", r)
	}
	want := map[string]any{"notifications": []any{map[string]any{
		"tokens":      []any{"ios-1"},
		"platform":    float64(1),
		"title":       "Ann",
		"message":     "hello",
		"badge":       float64(3),
		"sound":       "default",
		"development": true,
		"thread-id":   "c1",
		"data":        map[string]any{"n": float64(7), "obj": map[string]any{"a": true}},
	}}}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if !reflect.DeepEqual(reqs[0].Body, want) {
		t.Errorf("body\n got %v\nwant %v", reqs[0].Body, want)
	}
}

func TestGatewayAndroidStringAlert(t *testing.T) {
	f, p := newGateway(t)
	r := p.Send(t.Context(), push.Notification{
		Token: "and-1", Platform: "android",
		Payload: map[string]any{"alert": "New message from ann", "badge": 1},
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := map[string]any{"notifications": []any{map[string]any{
		"tokens": []any{"and-1"}, "platform": float64(2), "message": "New message from ann", "badge": float64(1),
	}}}
	if got := f.Requests()[0].Body; !reflect.DeepEqual(got, want) {
		t.Errorf("body\n got %v\nwant %v", got, want)
	}
}

func TestGatewaySilent(t *testing.T) {
	f, p := newGateway(t)
	if r := p.Send(t.Context(), push.Notification{Token: "t", Platform: "ios", Payload: map[string]any{"k": "v"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	want := map[string]any{"notifications": []any{map[string]any{
		"tokens": []any{"t"}, "platform": float64(1), "content_available": true, "data": map[string]any{"k": "v"},
	}}}
	if got := f.Requests()[0].Body; !reflect.DeepEqual(got, want) {
		t.Errorf("body\n got %v\nwant %v", got, want)
	}
}

func TestGatewayAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		platform   string
		reply      pushtest.Reply
		dead       bool
		retry      bool
		retryAfter time.Duration
	}{
		{"500", "ios", pushtest.Reply{Status: 500}, false, true, 0},
		{"503 with Retry-After", "android", pushtest.Reply{Status: 503, RetryAfter: "12"}, false, true, 12 * time.Second},
		{"400 is permanent", "ios", pushtest.Reply{Status: 400}, false, false, 0},
		{"sync log: APNs Unregistered", "ios", pushtest.Reply{Reason: "Unregistered"}, true, false, 0},
		{"sync log: APNs BadDeviceToken", "ios", pushtest.Reply{Reason: "BadDeviceToken"}, true, false, 0},
		{"sync log: APNs ServiceUnavailable", "ios", pushtest.Reply{Reason: "ServiceUnavailable"}, false, true, 0},
		{"sync log: FCM unregistered", "android", pushtest.Reply{Reason: "Requested entity was not found."}, true, false, 0},
		{"sync log: other error is permanent", "android", pushtest.Reply{Reason: "Request contains an invalid argument."}, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newGateway(t)
			f.Answer("tok", tc.reply)
			r := p.Send(t.Context(), push.Notification{Token: "tok", Platform: tc.platform, Payload: map[string]any{"alert": "x"}})
			if r.Dead != tc.dead || r.Retry != tc.retry || r.RetryAfter != tc.retryAfter || r.Err == nil {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

// A gateway that cannot be reached is a temporary failure.
func TestGatewayDownIsRetry(t *testing.T) {
	f, p := newGateway(t)
	f.Close()
	r := p.Send(t.Context(), push.Notification{Token: "tok", Platform: "ios", Payload: map[string]any{"alert": "x"}})
	if !r.Retry || r.Dead || r.Err == nil {
		t.Fatalf("result %+v", r)
	}
}

// Wait wakes on the request that arrives, without polling: a send in a
// goroutine hangs at the fake, and the test lets it go only once the fake
// has recorded it.
func TestFakeWaitSignalsAHangingRequest(t *testing.T) {
	f, p := newGateway(t)
	f.Answer("tok", pushtest.Reply{Hang: true})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan push.Result, 1)
	go func() {
		done <- p.Send(ctx, push.Notification{Token: "tok", Platform: "ios", Payload: map[string]any{"alert": "x"}})
	}()
	reqs, err := f.Wait(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Token != "tok" || !reqs[0].Reply.Hang {
		t.Fatalf("recorded %+v", reqs[0])
	}
	cancel()
	if r := <-done; !r.Retry || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("result %+v", r)
	}
}

func TestNewGatewayNeedsURL(t *testing.T) {
	if _, err := push.NewGateway(push.GatewayConfig{}); err == nil {
		t.Error("no error")
	}
}

package push_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/push/pushtest"
)

// A provider that does not answer before the deadline is a temporary
// failure: the notification is tried again later.
func TestTimeoutIsRetry(t *testing.T) {
	type fake interface {
		AnswerAll(pushtest.Reply)
	}
	for _, c := range []struct {
		name string
		new  func(t *testing.T) (fake, push.Provider, func() int)
	}{
		{"apns", func(t *testing.T) (fake, push.Provider, func() int) {
			f, p := newAPNs(t)
			return f, p, func() int { return len(f.Requests()) }
		}},
		{"fcm", func(t *testing.T) (fake, push.Provider, func() int) {
			f, p := newFCM(t)
			return f, p, func() int { return len(f.Requests()) }
		}},
		{"gateway", func(t *testing.T) (fake, push.Provider, func() int) {
			f, p := newGateway(t)
			return f, p, func() int { return len(f.Requests()) }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, p, requests := c.new(t)
			f.AnswerAll(pushtest.Reply{Hang: true})
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			r := p.Send(ctx, push.Notification{Token: "tok", Platform: "ios", Payload: map[string]any{"alert": "x"}})
			if !r.Retry || r.Dead || !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Fatalf("result %+v", r)
			}
			if n := requests(); n != 1 {
				t.Errorf("fake saw %d requests", n)
			}
		})
	}
}

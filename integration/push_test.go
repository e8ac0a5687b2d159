package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/push/pushtest"
	"github.com/parley-im/parley/server"
)

// Offline push end to end, through each provider's fake: Jerry's iPhone
// gets the message through APNs (the sandbox for _profile dev), Mary's
// Android phone through FCM, with the badge their unread count; a token
// APNs calls dead is unregistered.
func TestOfflinePushThroughProviders(t *testing.T) {
	apns, fcm := pushtest.NewAPNs(t), pushtest.NewFCM(t)
	providers := func() []push.Provider {
		a, err := push.NewAPNs(apns.Config())
		if err != nil {
			t.Fatal(err)
		}
		f, err := push.NewFCM(fcm.Config())
		if err != nil {
			t.Fatal(err)
		}
		return []push.Provider{a, f}
	}()
	h := start(t, func(c *server.Config) { c.PushProviders = providers })
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	for _, d := range []struct {
		u        *user
		platform client.DeviceRequestPlatform
		token    string
	}{{jerry, "ios", "jerry-iphone"}, {mary, "android", "mary-pixel"}} {
		if r, err := h.c.RegisterDeviceWithResponse(ctx(t), client.DeviceRequest{Platform: d.platform, Token: d.token}, d.u.auth()); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("register %s: %v", d.token, err)
		}
	}
	conv := tom.createConv("Jerry", "Mary")
	tom.sendText(conv.Id, "Cheese?")
	cx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, err := apns.Wait(cx, 1)
	if err != nil {
		t.Fatalf("APNs got nothing: %v", err)
	}
	if aps, _ := a[0].Payload["aps"].(map[string]any); a[0].Token != "jerry-iphone" || a[0].Sandbox ||
		aps["alert"] != "New message from Tom" || aps["badge"] != float64(1) {
		t.Errorf("APNs got %+v", a[0])
	}
	f, err := fcm.Wait(cx, 1)
	if err != nil {
		t.Fatalf("FCM got nothing: %v", err)
	}
	if f[0].Token != "mary-pixel" {
		t.Errorf("FCM got %+v", f[0])
	}

	// pushData with _profile dev goes to the sandbox; a dead token goes.
	apns.Answer("jerry-iphone", pushtest.Reply{Status: http.StatusGone, Reason: "Unregistered"})
	req := textMsg("Brie!")
	pd := map[string]interface{}{"alert": "Brie!", "_profile": "dev"}
	req.PushData = &pd
	tom.send(conv.Id, req)
	a, err = apns.Wait(cx, 2)
	if err != nil {
		t.Fatalf("APNs got no second push: %v", err)
	}
	if !a[1].Sandbox {
		t.Errorf("a _profile dev push went to %+v, not the sandbox", a[1])
	}
	if _, err := fcm.Wait(cx, 2); err != nil {
		t.Fatalf("FCM got no second push: %v", err)
	}
	// The dead token's device is gone once its outcome is recorded.
	for {
		r, err := h.c.ListDevicesWithResponse(ctx(t), jerry.auth())
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list devices: %v", err)
		}
		if len(deref(r.JSON200.Devices)) == 0 {
			break
		}
		select {
		case <-cx.Done():
			t.Fatalf("Jerry's dead token is still registered: %+v", deref(r.JSON200.Devices))
		case <-time.After(10 * time.Millisecond): // the outcome is written after the batch
		}
	}
}

package integration

import (
	"net/http"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// Devices: a client registers push tokens, lists and unregisters its own; a
// token registered again by another client moves to it; the master key has
// no devices; a bad platform or token is INVALID_REQUEST.
func TestDevices(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	register := func(u *user, platform, token string) *client.RegisterDeviceResponse {
		t.Helper()
		r, err := h.c.RegisterDeviceWithResponse(ctx(t), client.DeviceRequest{Platform: client.DeviceRequestPlatform(platform), Token: token}, u.auth())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	list := func(u *user) []string {
		t.Helper()
		r, err := h.c.ListDevicesWithResponse(ctx(t), u.auth())
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("list: %v %d %s", err, r.StatusCode(), r.Body)
		}
		var out []string
		for _, d := range deref(r.JSON200.Devices) {
			out = append(out, d.Platform+"/"+d.Token)
		}
		return out
	}

	first := register(tom, "ios", "aa11")
	if first.StatusCode() != http.StatusOK || first.JSON200.Token != "aa11" || first.JSON200.CreatedAt == 0 {
		t.Fatalf("register: %d %s", first.StatusCode(), first.Body)
	}
	register(tom, "android", "bb:22-x_y")
	if got := list(tom); len(got) != 2 || got[0] != "ios/aa11" || got[1] != "android/bb:22-x_y" {
		t.Errorf("Tom's devices %v", got)
	}
	// The phone changes hands; the token keeps its first registration time.
	if r := register(jerry, "ios", "aa11"); r.JSON200.CreatedAt != first.JSON200.CreatedAt || r.JSON200.UpdatedAt < r.JSON200.CreatedAt {
		t.Errorf("registered again: %s, first %s", r.Body, first.Body)
	}
	if got := list(tom); len(got) != 1 || got[0] != "android/bb:22-x_y" {
		t.Errorf("Tom's devices after Jerry took aa11: %v", got)
	}
	if got := list(jerry); len(got) != 1 || got[0] != "ios/aa11" {
		t.Errorf("Jerry's devices %v", got)
	}
	// Unregister: one's own token goes; another's stays (and is no error).
	for _, tok := range []string{"bb:22-x_y", "aa11"} {
		if r, err := h.c.UnregisterDeviceWithResponse(ctx(t), tok, tom.auth()); err != nil || r.StatusCode() != http.StatusNoContent {
			t.Errorf("Tom unregisters %s: %v %d %s", tok, err, r.StatusCode(), r.Body)
		}
	}
	if got := list(tom); len(got) != 0 {
		t.Errorf("Tom's devices after unregistering: %v", got)
	}
	if got := list(jerry); len(got) != 1 {
		t.Errorf("Tom unregistered Jerry's device: %v", got)
	}

	for what, req := range map[string]client.DeviceRequest{
		"upper-case platform": {Platform: "IOS", Token: "t"},
		"another platform":    {Platform: "huawei", Token: "t"},
		"no token":            {Platform: "ios", Token: ""},
	} {
		expectProblem(t, what, http.StatusBadRequest, client.INVALIDREQUEST)(h.c.RegisterDeviceWithResponse(ctx(t), req, tom.auth()))
	}
	if r, err := h.c.RegisterDeviceWithResponse(ctx(t), client.DeviceRequest{Platform: "ios", Token: "m"}, h.master()); err != nil ||
		(r.StatusCode() != http.StatusForbidden && r.StatusCode() != http.StatusUnauthorized) {
		t.Errorf("the master key registers a device: %v %d %s", err, r.StatusCode(), r.Body)
	}
}

package handlers

import (
	"context"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
)

// Device platforms.
const (
	PlatformIOS     = "ios"
	PlatformAndroid = "android"
)

// MaxDeviceToken is the longest push token accepted.
const MaxDeviceToken = 4096

// DeviceRequest registers a device for offline push.
type DeviceRequest struct {
	Platform string `json:"platform" enum:"ios,android" doc:"Push platform: ios (APNs) or android (FCM); the push gateway serves both" example:"ios"`
	Token    string `json:"token" minLength:"1" maxLength:"4096" doc:"The device's push token from its platform" example:"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"`
}

// Device is a registered device.
type Device struct {
	Platform  string `json:"platform" example:"ios"`
	Token     string `json:"token" example:"740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"`
	CreatedAt int64  `json:"createdAt" doc:"First registration, ms since the Unix epoch" example:"1795449600000"`
	UpdatedAt int64  `json:"updatedAt" doc:"Latest registration, ms since the Unix epoch" example:"1795449600000"`
}

// RegisterDevice records the caller's device for offline push; a token
// registered by another client before now belongs to the caller (a phone
// changes hands, an app logs in as someone else).
func (s *Service) RegisterDevice(ctx context.Context, p Principal, req DeviceRequest) (*Device, error) {
	if p.Master {
		return nil, fail(CodeForbidden, "devices belong to clients: log in as one")
	}
	if req.Platform != PlatformIOS && req.Platform != PlatformAndroid {
		return nil, fail(CodeInvalidRequest, "platform: ios or android")
	}
	if req.Token == "" || len(req.Token) > MaxDeviceToken || !utf8.ValidString(req.Token) {
		return nil, fail(CodeInvalidRequest, "token: 1–%d bytes of UTF-8", MaxDeviceToken)
	}
	now := s.nowMs()
	d := &store.Device{Token: req.Token, ClientID: p.ClientID, Platform: req.Platform, CreatedAt: now, UpdatedAt: now}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		d.CreatedAt = now
		return tx.PutDevice(d)
	}, nil)
	if err != nil {
		return nil, err
	}
	return &Device{Platform: d.Platform, Token: d.Token, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}, nil
}

// UnregisterDevice forgets one of the caller's devices. Forgetting a token
// the caller does not have (any more) is no error: the outcome is the same.
func (s *Service) UnregisterDevice(ctx context.Context, p Principal, token string) error {
	if p.Master {
		return fail(CodeForbidden, "devices belong to clients: log in as one")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.DeleteDevice(p.ClientID, token)
		return err
	}, nil)
}

// Devices lists the caller's devices.
func (s *Service) Devices(ctx context.Context, p Principal) ([]Device, error) {
	if p.Master {
		return nil, fail(CodeForbidden, "devices belong to clients: log in as one")
	}
	rows, err := store.Devices(ctx, s.db.R(), p.ClientID)
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(rows))
	for i, r := range rows {
		out[i] = Device{Platform: r.Platform, Token: r.Token, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

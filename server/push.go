package server

import (
	"errors"
	"fmt"

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

// providers builds the configured providers. A platform goes to its own
// service when configured (APNs for ios, FCM for android), else to the
// gateway.
func (p PushSettings) providers() ([]push.Provider, error) {
	var out []push.Provider
	if p.APNsKeyFile != "" {
		pr, err := push.NewAPNs(push.APNsConfig{KeyFile: p.APNsKeyFile, KeyID: p.APNsKeyID, TeamID: p.APNsTeamID,
			Topic: p.APNsTopic, URL: p.APNsURL})
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	if p.FCMCredentials != "" {
		pr, err := push.NewFCM(push.FCMConfig{CredentialsFile: p.FCMCredentials, URL: p.FCMURL})
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	if p.GatewayURL != "" {
		pr, err := push.NewGateway(push.GatewayConfig{URL: p.GatewayURL})
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

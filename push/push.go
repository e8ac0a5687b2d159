// Package push sends offline push notifications through their providers.
package push

import (
	"context"
	"time"
)

// Notification is what one device gets.
type Notification struct {
	Token    string
	Platform string         // "ios" or "android"
	Payload  map[string]any // alert, badge (a number), sound, _profile, custom keys
	ConvID   string
	ID       string
}

// Result of one send.
type Result struct {
	Dead       bool
	Retry      bool
	RetryAfter time.Duration
	Err        error
}

// Provider sends notifications to the devices of some platforms.
type Provider interface {
	Name() string
	Platforms() []string
	Send(ctx context.Context, n Notification) Result
}

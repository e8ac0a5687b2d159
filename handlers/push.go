package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/internal/promreg"
	"github.com/parley-im/parley/push"
	"github.com/parley-im/parley/store"
)

// Offline push (README, "Push"). A stored message whose conversation has
// members offline queues a push job in the message's own transaction
// (queuePush, on the send path); the push worker (RunPush) later asks the
// app's _receiversOffline hook, decides who gets what, writes one delivery
// per device, and sends the deliveries through their platform's provider,
// retrying those that fail for now. A provider that is slow or down never
// slows a send: sends only write a row.

// DefaultPushTemplate is the push content when neither the hook nor the
// message gives one.
const DefaultPushTemplate = `{"alert":"New message from ${fromClientId}","badge":"Increment"}`

// PushConfig turns offline push on.
type PushConfig struct {
	Providers []push.Provider // each serves its Platforms(); a platform without one gets no push
	Template  string          // DefaultPushTemplate when empty
	// GiveUp is how long a delivery is retried (default 7 days).
	GiveUp time.Duration
}

// pushGiveUp is how long a failing delivery is retried by default.
const pushGiveUp = 7 * 24 * time.Hour

// pushBatch is how many jobs or deliveries the worker takes at a time, and
// pushConcurrency how many deliveries it sends at once.
const (
	pushBatch       = 256
	pushConcurrency = 32
	pushSendTimeout = 30 * time.Second
)

// pusher is the push worker's state.
type pusher struct {
	providers map[string]push.Provider // by platform
	template  string
	giveUp    time.Duration
	wake      chan struct{}
	outcomes  *prometheus.CounterVec // provider, outcome
}

func newPusher(cfg *PushConfig, reg prometheus.Registerer) *pusher {
	// Every provider's series exist from the start, push on or off: a rate
	// or an alert on them works before the first push.
	outcomes := promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_push_notifications_total",
		Help: "Push notifications by provider and outcome: sent, retried (failed for now), failed (given up), dead (the token is gone).",
	}, []string{"provider", "outcome"}))
	for _, provider := range []string{"apns", "fcm", "gateway"} {
		for _, outcome := range []string{"sent", "retried", "failed", "dead"} {
			outcomes.WithLabelValues(provider, outcome)
		}
	}
	if cfg == nil || len(cfg.Providers) == 0 {
		return nil
	}
	p := &pusher{providers: map[string]push.Provider{}, template: cfg.Template, giveUp: cfg.GiveUp, wake: make(chan struct{}, 1), outcomes: outcomes}
	if p.template == "" {
		p.template = DefaultPushTemplate
	}
	if p.giveUp <= 0 {
		p.giveUp = pushGiveUp
	}
	for _, pr := range cfg.Providers {
		for _, platform := range pr.Platforms() {
			if _, taken := p.providers[platform]; !taken {
				p.providers[platform] = pr
			}
		}
	}
	return p
}

// signal wakes the worker: a job was queued.
func (p *pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// queuePush queues the push job of a message just queued in tx (row.MID is
// set), for the recipients who are offline now. It runs on the writer.
func (s *Service) queuePush(tx *store.Tx, row *store.Message, recipients []string, pushData map[string]any) error {
	if s.push == nil || len(recipients) == 0 {
		return nil
	}
	offline := s.hub.Offline(recipients)
	if len(offline) == 0 {
		return nil
	}
	list, _ := json.Marshal(offline)
	job := &store.PushJob{MID: row.MID, ConversationID: row.ConversationID, Offline: string(list), CreatedAt: row.Timestamp}
	if pushData != nil {
		b, err := json.Marshal(pushData)
		if err != nil {
			return fail(CodeInvalidRequest, "pushData: %v", err)
		}
		data := string(b)
		job.PushData = &data
	}
	return tx.QueuePush(job)
}

// RunPush runs the push worker until ctx ends; it does nothing when push is
// off.
func (s *Service) RunPush(ctx context.Context) {
	p := s.push
	if p == nil {
		return
	}
	for {
		moreJobs := s.pushJobs(ctx)
		moreDue := s.pushDeliveries(ctx)
		if ctx.Err() != nil {
			return
		}
		if moreJobs || moreDue {
			continue
		}
		wait := time.Second
		if at, ok, err := store.NextPushAt(ctx, s.db.R()); err == nil && ok {
			wait = min(max(time.Duration(at-s.nowMs())*time.Millisecond, 0), wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pushJobs expands queued jobs into deliveries, a batch in one write; it
// reports whether it took a full batch (there may be more).
func (s *Service) pushJobs(ctx context.Context) bool {
	jobs, err := store.PushJobs(ctx, s.db.R(), pushBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("push: read jobs", "err", err)
		}
		return false
	}
	expanded := make([][]store.PushDelivery, len(jobs))
	for i := range jobs {
		if expanded[i], err = s.deliveriesOf(ctx, &jobs[i]); err != nil {
			if ctx.Err() == nil {
				s.log.Error("push: prepare", "conversation", jobs[i].ConversationID, "err", err)
			}
			jobs, expanded = jobs[:i], expanded[:i] // the rest on the next round
			break
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		for i, j := range jobs {
			if err := tx.ExpandPushJob(j.ID, expanded[i]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("push: store deliveries", "err", err)
		}
		return false
	}
	return len(jobs) == pushBatch
}

// receiversOfflineResult is what the _receiversOffline hook may answer.
type receiversOfflineResult struct {
	Skip         bool            `json:"skip"`
	Force        bool            `json:"force"`
	OfflinePeers []string        `json:"offlinePeers"`
	PushMessage  json.RawMessage `json:"pushMessage"`
}

// deliveriesOf decides who of a job's offline recipients gets what on which
// device.
func (s *Service) deliveriesOf(ctx context.Context, j *store.PushJob) ([]store.PushDelivery, error) {
	r := s.db.R()
	m, err := store.GetMessage(ctx, r, j.ConversationID, j.MID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // recalled with its conversation, or purged: nothing to say
	}
	if err != nil {
		return nil, err
	}
	var offline []string
	if err := json.Unmarshal([]byte(j.Offline), &offline); err != nil {
		return nil, nil
	}
	muted, err := store.MutedOf(ctx, r, j.ConversationID, offline)
	if err != nil {
		return nil, err
	}
	var peers, mutedPeers []string
	for _, id := range offline {
		isMuted, member := muted[id]
		switch {
		case !member: // left since: no push
		case isMuted:
			mutedPeers = append(mutedPeers, id)
		default:
			peers = append(peers, id)
		}
	}
	hook, err := s.receiversOffline(ctx, m, peers)
	if err != nil {
		return nil, err
	}
	if hook.Skip {
		return nil, nil
	}
	if hook.OfflinePeers != nil {
		// The hook narrows (or names) whom to push to, among those offline.
		peers = slices.DeleteFunc(hook.OfflinePeers, func(id string) bool {
			_, member := muted[id]
			return !member
		})
	}
	if hook.Force {
		peers = append(peers, mutedPeers...)
	}
	slices.Sort(peers)
	peers = slices.Compact(peers)
	if len(peers) == 0 {
		return nil, nil
	}
	payload, err := s.pushPayload(hook.PushMessage, j, m)
	if err != nil {
		s.log.Warn("push: unusable push content; the template is used", "conversation", j.ConversationID, "err", err)
		if payload, err = s.templatePayload(m); err != nil {
			return nil, err
		}
	}
	devices, err := store.DevicesOf(ctx, r, peers)
	if err != nil {
		return nil, err
	}
	now := s.nowMs()
	badges := map[string]int64{}
	var out []store.PushDelivery
	for _, d := range devices {
		if s.push.providers[d.Platform] == nil {
			continue
		}
		p := payload
		if b, ok := payload["badge"].(string); ok && strings.EqualFold(b, "Increment") {
			n, seen := badges[d.ClientID]
			if !seen {
				if n, err = store.UnreadTotal(ctx, r, d.ClientID); err != nil {
					return nil, err
				}
				badges[d.ClientID] = n
			}
			p = maps.Clone(payload)
			p["badge"] = n
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		out = append(out, store.PushDelivery{Token: d.Token, Platform: d.Platform, ClientID: d.ClientID,
			Payload: string(b), ConversationID: j.ConversationID, CreatedAt: now, NextAt: now})
	}
	return out, nil
}

// receiversOffline asks the app's _receiversOffline hook (none configured:
// the default answer) with LeanCloud's parameters. A hook that fails lets
// the push go as it would have (hooks fail open), or skips it (closed).
func (s *Service) receiversOffline(ctx context.Context, m *store.Message, peers []string) (receiversOfflineResult, error) {
	var res receiversOfflineResult
	if s.hooks == nil || len(peers) == 0 {
		return res, nil
	}
	msg := toMessage(m)
	content, err := s.hookContent().ToLeanCloud(&msg.Content, msg.Recalled)
	if err != nil {
		return res, nil // nothing LeanCloud's form can say: pushed as it is
	}
	mentioned := []string{}
	for _, id := range peers {
		if mentions(msg, id) {
			mentioned = append(mentioned, id)
		}
	}
	params := map[string]any{"fromPeer": m.From, "convId": m.ConversationID, "offlinePeers": peers,
		"content": content, "timestamp": m.Timestamp, "mentionAll": msg.MentionAll, "mentionOfflinePeers": mentioned}
	if _, err := s.before(ctx, hooks.ReceiversOffline, params, &res); err != nil {
		return receiversOfflineResult{Skip: true}, nil // failed, and hooks fail closed
	}
	return res, nil
}

// pushPayload is the push content: the hook's pushMessage, else the
// message's pushData, else the template.
func (s *Service) pushPayload(hook json.RawMessage, j *store.PushJob, m *store.Message) (map[string]any, error) {
	if raw := strings.TrimSpace(string(hook)); raw != "" && raw != "null" {
		return payloadOf([]byte(raw))
	}
	if j.PushData != nil {
		return payloadOf([]byte(*j.PushData))
	}
	return s.templatePayload(m)
}

// payloadOf reads push content given as a JSON object, or as a string that
// holds one (LeanCloud's pushData and pushMessage may be either); a string
// that is no JSON object is the alert itself.
func payloadOf(raw []byte) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case string:
		var obj map[string]any
		if json.Unmarshal([]byte(x), &obj) == nil && obj != nil {
			return obj, nil
		}
		return map[string]any{"alert": x}, nil
	}
	return nil, errors.New("push content must be a JSON object or a string")
}

// templatePayload fills the template in with the message's conversation,
// time and sender.
func (s *Service) templatePayload(m *store.Message) (map[string]any, error) {
	esc := func(v string) string {
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	}
	filled := strings.NewReplacer("${convId}", esc(m.ConversationID), "${timestamp}", strconv.FormatInt(m.Timestamp, 10),
		"${fromClientId}", esc(m.From)).Replace(s.push.template)
	return payloadOf([]byte(filled))
}

// pushDeliveries sends the deliveries due, several at once, and records
// their outcomes in one write; it reports whether it took a full batch.
func (s *Service) pushDeliveries(ctx context.Context) bool {
	due, err := store.DuePushDeliveries(ctx, s.db.R(), s.nowMs(), pushBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("push: read deliveries", "err", err)
		}
		return false
	}
	changes := make([]func(*store.Tx) error, len(due))
	sem := make(chan struct{}, pushConcurrency)
	var wg sync.WaitGroup
	for i, d := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			changes[i] = s.deliver1(ctx, d)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false // shutting down: what was not recorded goes again after the restart
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		for _, change := range changes {
			if err := change(tx); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil && ctx.Err() == nil {
		s.log.Error("push: record outcomes", "err", err)
	}
	return len(due) == pushBatch
}

// deliver1 sends one delivery and returns how to record what became of it.
func (s *Service) deliver1(ctx context.Context, d store.PushDelivery) func(*store.Tx) error {
	p := s.push.providers[d.Platform]
	var payload map[string]any
	if p == nil || json.Unmarshal([]byte(d.Payload), &payload) != nil {
		return func(tx *store.Tx) error { return tx.PushDone(d.ID) }
	}
	sendCtx, cancel := context.WithTimeout(ctx, pushSendTimeout)
	res := p.Send(sendCtx, push.Notification{Token: d.Token, Platform: d.Platform, Payload: payload,
		ConvID: d.ConversationID, ID: strconv.FormatInt(d.ID, 10)})
	cancel()
	now := s.now()
	outcome := "sent"
	var change func(*store.Tx) error
	switch {
	case res.Err == nil:
		change = func(tx *store.Tx) error { return tx.PushDone(d.ID) }
	case res.Dead:
		outcome = "dead"
		change = func(tx *store.Tx) error { return tx.PushDeadToken(d.Token) }
	case res.Retry && now.Sub(time.UnixMilli(d.CreatedAt)) < s.push.giveUp:
		outcome = "retried"
		next := now.Add(max(pushBackoff(d.Attempts), res.RetryAfter)).UnixMilli()
		change = func(tx *store.Tx) error { return tx.PushLater(d.ID, d.Attempts+1, next) }
	default:
		outcome = "failed"
		change = func(tx *store.Tx) error { return tx.PushDone(d.ID) }
	}
	if ctx.Err() == nil {
		if res.Err != nil {
			s.log.Warn("push: send", "provider", p.Name(), "outcome", outcome, "attempts", d.Attempts+1, "err", res.Err)
		}
		s.push.outcomes.WithLabelValues(p.Name(), outcome).Inc()
	}
	return change
}

// pushBackoff is how long to wait after the attempts-th failure: 30 s
// doubling up to an hour, with a tenth of jitter so that a provider that
// comes back is not hit by every retry at once.
func pushBackoff(attempts int) time.Duration {
	d := 30 * time.Second << min(attempts, 7)
	d = min(d, time.Hour)
	return d + rand.N(d/10+1)
}

// CheckPushTemplate checks that a push template gives a JSON object once
// its placeholders are filled in ("" is the default template).
func CheckPushTemplate(template string) (map[string]any, error) {
	if template == "" {
		template = DefaultPushTemplate
	}
	s := &Service{push: &pusher{template: template}}
	return s.templatePayload(&store.Message{ConversationID: "c", From: "Tom", Timestamp: 1})
}

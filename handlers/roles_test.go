package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The table of who may act on whom (README, "Roles").
func TestMayActOn(t *testing.T) {
	master, client := Principal{Master: true}, Principal{ClientID: "x"}
	for _, c := range []struct {
		p             Principal
		actor, target string
		act           memberAction
		want          bool
	}{
		{master, "", RoleOwner, actRemove, true},
		{client, RoleOwner, RoleManager, actRemove, true},
		{client, RoleManager, RoleOwner, actRemove, false},
		{client, RoleMember, RoleOwner, actRemove, false},
		{client, RoleMember, RoleMember, actRemove, true}, // as the seeds have it
		{client, RoleMember, RoleManager, actRemove, false},
		{client, RoleManager, RoleMember, actSilence, true},
		{client, RoleMember, RoleMember, actSilence, false},
		{client, RoleManager, RoleManager, actBlock, false},
		{client, RoleOwner, RoleManager, actBlock, true},
		{client, RoleOwner, RoleMember, actSetRole, true},
		{client, RoleManager, RoleMember, actSetRole, false},
	} {
		if got := mayActOn(c.p, c.actor, c.target, c.act); got != c.want {
			t.Errorf("%+v: %v, want %v", c, got, c.want)
		}
	}
}

// A timed silence ends by itself: the send after its end goes, with no
// sweeper and the writer's cache still holding the silence.
func TestSilenceExpiresAtSendTime(t *testing.T) {
	s, clock := clockedService(t, Config{})
	ctx := context.Background()
	tom, mary := Principal{ClientID: "tom"}, Principal{ClientID: "mary"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"mary"}})
	if err != nil {
		t.Fatal(err)
	}
	say := text("hi")
	if _, _, err := s.Send(ctx, mary, c.ID, say); err != nil { // the conversation is in the cache
		t.Fatal(err)
	}
	if _, err := s.Silence(ctx, tom, c.ID, SilenceRequest{ClientIDs: []string{"mary"}, TTL: 60}); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if _, _, err := s.Send(ctx, mary, c.ID, say); !errors.As(err, &e) || e.Code != CodeMemberSilenced {
		t.Fatalf("a silenced member sends: %v", err)
	}
	req := say
	req.Transient = true
	if _, _, err := s.Send(ctx, mary, c.ID, req); !errors.As(err, &e) || e.Code != CodeMemberSilenced {
		t.Fatalf("a silenced member sends a transient message: %v", err)
	}
	*clock = clock.Add(61 * time.Second)
	if _, _, err := s.Send(ctx, mary, c.ID, say); err != nil {
		t.Errorf("after the silence ended: %v", err)
	}
	if l, err := s.ListSilenced(ctx, tom, c.ID, ""); err != nil || len(l.ClientIDs) != 0 {
		t.Errorf("silenced after the end: %+v %v", l, err)
	}
}

// In signature mode, blocking and unblocking are signed as LeanCloud signs
// them (the actions conversation-block-clients and
// conversation-unblock-clients); a signature is used once.
func TestBlockIsSignedInSignatureMode(t *testing.T) {
	s := newRuleService(t, AuthSignature)
	ctx := context.Background()
	tom := Principal{ClientID: "tom"}
	c, _, err := s.CreateConversation(ctx, tom, CreateConversationRequest{Members: []string{"mary"},
		Signed: signedBy(s, "tom", sortedIDs([]string{"mary", "tom"}), "")})
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if _, err := s.Block(ctx, tom, c.ID, ClientsRequest{ClientIDs: []string{"mary"}}); !errors.As(err, &e) || e.Code != CodeSignatureInvalid {
		t.Fatalf("an unsigned block: %v", err)
	}
	sig := signedBy(s, "tom", c.ID+":mary", "conversation-block-clients")
	if _, err := s.Block(ctx, tom, c.ID, ClientsRequest{ClientIDs: []string{"mary"}, Signed: sig}); err != nil {
		t.Fatalf("a signed block: %v", err)
	}
	if _, err := s.Unblock(ctx, tom, c.ID, ClientsRequest{ClientIDs: []string{"mary"}, Signed: sig}); !errors.As(err, &e) || e.Code != CodeSignatureInvalid {
		t.Errorf("an unblock with the block's signature: %v", err)
	}
	if _, err := s.Unblock(ctx, tom, c.ID, ClientsRequest{ClientIDs: []string{"mary"}, Signed: signedBy(s, "tom", c.ID+":mary", "conversation-unblock-clients")}); err != nil {
		t.Errorf("a signed unblock: %v", err)
	}
}

var testNonce int

// signedBy signs appId:clientId:parts:timestamp:nonce[:action] as the app's
// backend would.
func signedBy(s *Service, clientID, parts, action string) Signed {
	testNonce++
	ts := s.now().UnixMilli()
	nonce := "n" + strconv.Itoa(testNonce)
	fields := []string{s.cfg.AppID, clientID, parts, strconv.FormatInt(ts, 10), nonce}
	if action != "" {
		fields = append(fields, action)
	}
	return Signed{Signature: s.sign(strings.Split(strings.Join(fields, ":"), ":")...), Timestamp: ts, Nonce: nonce}
}

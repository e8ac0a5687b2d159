package gateway_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/gateway"
	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/server"
)

// reply sends cmd with the next serial number and returns the answer to
// it, passing over pushes (commands without i) that come first.
func (c *client) reply(cmd *lcproto.GenericCommand) *lcproto.GenericCommand {
	c.t.Helper()
	c.i++
	cmd.I = proto.Int32(c.i)
	c.write(cmd)
	for {
		r := c.read()
		if r.I == nil {
			continue
		}
		if r.GetI() != c.i {
			c.t.Fatalf("reply i = %d, want %d: %v", r.GetI(), c.i, r)
		}
		return r
	}
}

func (c *client) conv(op lcproto.OpType, m *lcproto.ConvCommand) *lcproto.GenericCommand {
	c.t.Helper()
	return c.reply(&lcproto.GenericCommand{Cmd: lcproto.CommandType_conv.Enum(), Op: op.Enum(), ConvMessage: m})
}

func (c *client) blacklist(op lcproto.OpType, m *lcproto.BlacklistCommand) *lcproto.GenericCommand {
	c.t.Helper()
	return c.reply(&lcproto.GenericCommand{Cmd: lcproto.CommandType_blacklist.Enum(), Op: op.Enum(), BlacklistMessage: m})
}

// wantReply checks that r is the reply cmd/op, for peer, and returns it.
func wantReply(t *testing.T, r *lcproto.GenericCommand, cmd lcproto.CommandType, op lcproto.OpType, peer string) *lcproto.GenericCommand {
	t.Helper()
	if r.GetCmd() != cmd || r.GetOp() != op {
		t.Fatalf("got %v, want %v/%v", r, cmd, op)
	}
	if r.GetPeerId() != peer || r.GetService() != 2 {
		t.Fatalf("reply without peerId %q and service 2: %v", peer, r)
	}
	return r
}

func wantConv(t *testing.T, r *lcproto.GenericCommand, op lcproto.OpType, peer string) *lcproto.ConvCommand {
	t.Helper()
	return wantReply(t, r, lcproto.CommandType_conv, op, peer).GetConvMessage()
}

func jsonData(s string) *lcproto.JsonObjectMessage {
	return &lcproto.JsonObjectMessage{Data: proto.String(s)}
}

// login dials a connection and opens a session for peer.
func login(t *testing.T, srv *server.Server, peer string) (*client, handlers.Principal) {
	t.Helper()
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	st := c.open(peer).GetSessionMessage().GetSt()
	p, err := srv.Service().Authenticate(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// start creates a conversation as the JS SDK does: m sorted with the
// creator in it, attr the JSON of name and the custom attributes.
func (c *client) start(self string, others []string, attr string) string {
	c.t.Helper()
	m := append(slices.Clone(others), self)
	slices.Sort(m)
	r := c.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: m, Attr: jsonData(attr), Unique: proto.Bool(false)})
	cid := wantConv(c.t, r, lcproto.OpType_started, self).GetCid()
	if cid == "" {
		c.t.Fatalf("started without cid: %v", r)
	}
	return cid
}

// query runs conv/query and decodes its results.
func (c *client) query(peer string, m *lcproto.ConvCommand) []map[string]any {
	c.t.Helper()
	out := wantConv(c.t, c.conv(lcproto.OpType_query, m), lcproto.OpType_results, peer)
	var res []map[string]any
	if err := json.Unmarshal([]byte(out.GetResults().GetData()), &res); err != nil {
		c.t.Fatalf("results %q: %v", out.GetResults().GetData(), err)
	}
	return res
}

func byID(cid string) *lcproto.ConvCommand {
	return &lcproto.ConvCommand{Where: jsonData(fmt.Sprintf(`{"objectId":%q}`, cid))}
}

func TestConvStartAndQuery(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")

	// The JS SDK: custom attributes beside name.
	before := time.Now().Add(-time.Second)
	r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{
		M: []string{"Jerry", "Tom"}, Attr: jsonData(`{"name":"Tom & Jerry","topic":"cheese","level":3}`),
	})
	got := wantConv(t, r, lcproto.OpType_started, "Tom")
	cdate, err := time.Parse("2006-01-02T15:04:05.000Z", got.GetCdate())
	if err != nil || cdate.Before(before) || cdate.After(time.Now().Add(time.Second)) {
		t.Fatalf("cdate %q: %v", got.GetCdate(), err)
	}
	cid := got.GetCid()
	if got.TempConvTTL != nil || len(got.ProtoReflect().GetUnknown()) != 0 {
		t.Errorf("tempConvTTL or existing on a new normal conversation: %v", got)
	}

	res := tom.query("Tom", byID(cid))
	if len(res) != 1 {
		t.Fatalf("query by objectId: %v", res)
	}
	o := res[0]
	if o["objectId"] != cid || o["name"] != "Tom & Jerry" || o["c"] != "Tom" || o["createdAt"] != got.GetCdate() {
		t.Errorf("result %v", o)
	}
	if fmt.Sprint(o["m"]) != "[Jerry Tom]" {
		t.Errorf("m = %v", o["m"])
	}
	// Custom attributes at the top level (the JS SDK's conv.get) and in
	// attr (the native SDKs').
	if o["topic"] != "cheese" || o["level"] != 3.0 {
		t.Errorf("top-level attributes: %v", o)
	}
	if attr, _ := o["attr"].(map[string]any); attr["topic"] != "cheese" {
		t.Errorf("attr: %v", o["attr"])
	}

	// The native SDKs: attr nested.
	cid2 := tom.start("Tom", []string{"Mary"}, `{"name":"native","attr":{"color":"red"}}`)
	res = tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(fmt.Sprintf(`{"objectId":{"$in":[%q,%q,"nope"]}}`, cid, cid2)), Limit: proto.Int32(999)})
	if len(res) != 2 {
		t.Fatalf("$in: %d results", len(res))
	}
	for _, o := range res {
		if o["objectId"] == cid2 && (o["color"] != "red" || o["name"] != "native") {
			t.Errorf("native attributes: %v", o)
		}
	}
	// Members contain, attributes, sort, limit, skip.
	if res := tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{"m":"Mary"}`)}); len(res) != 1 || res[0]["objectId"] != cid2 {
		t.Errorf("m contains Mary: %v", res)
	}
	if res := tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{"m":{"$all":["Tom","Jerry"]},"topic":"cheese"}`)}); len(res) != 1 {
		t.Errorf("$all and an attribute: %v", res)
	}
	// The JS SDK's withMembers: exactly these members.
	if res := tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{"m":{"$size":2,"$all":["Tom","Mary"]}}`)}); len(res) != 1 || res[0]["objectId"] != cid2 {
		t.Errorf("withMembers: %v", res)
	}
	res = tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{}`), Sort: proto.String("-createdAt"), Limit: proto.Int32(1), Skip: proto.Int32(1)})
	if len(res) != 1 || res[0]["objectId"] != cid {
		t.Errorf("sort -createdAt, skip 1, limit 1: %v", res)
	}
	// No where at all: every conversation.
	if res := tom.query("Tom", &lcproto.ConvCommand{}); len(res) != 2 {
		t.Errorf("no where: %d results", len(res))
	}
	// compact: no member list.
	res = tom.query("Tom", &lcproto.ConvCommand{Where: byID(cid).Where, Flag: proto.Int32(1)})
	if _, ok := res[0]["m"]; ok || len(res) != 1 {
		t.Errorf("compact result has m: %v", res)
	}

	// Another client sees it; a non-member no member list.
	mary, _ := login(t, srv, "Mary")
	if res := mary.query("Mary", byID(cid)); len(res) != 1 || res[0]["m"] != nil || res[0]["name"] != "Tom & Jerry" {
		t.Errorf("a non-member's view: %v", res)
	}
}

// A unique conversation (the JS SDK v5's default) is found again.
func TestConvStartUnique(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	uniq := func() string {
		r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry", "Tom"}, Unique: proto.Bool(true), Attr: jsonData(`{}`)})
		return wantConv(t, r, lcproto.OpType_started, "Tom").GetCid()
	}
	a := uniq()
	r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry", "Tom"}, Unique: proto.Bool(true), Attr: jsonData(`{}`)})
	again := wantConv(t, r, lcproto.OpType_started, "Tom")
	b := again.GetCid()
	// The Swift SDK's field 32, existing: true (a varint field, tag 32<<3).
	if unknown := again.ProtoReflect().GetUnknown(); !bytes.Equal(unknown, []byte{0x80, 0x02, 1}) {
		t.Errorf("existing not set: unknown fields % x", unknown)
	}
	if a != b {
		t.Fatalf("unique conversation created twice: %s, %s", a, b)
	}
	res := tom.query("Tom", byID(a))
	if len(res) != 1 || res[0]["unique"] != true {
		t.Fatalf("%v", res)
	}
}

func TestConvLastMessage(t *testing.T) {
	srv := start(t)
	tom, p := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry"}, `{}`)
	text := -1
	m, _, err := srv.Service().Send(context.Background(), p, cid, handlers.SendRequest{Content: handlers.Content{Type: &text, Text: "hi", MentionList: []string{"Jerry"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Without the flag, no last message.
	if res := tom.query("Tom", byID(cid)); res[0]["msg"] != nil || res[0]["lm"] == nil {
		t.Errorf("without withLastMessagesRefreshed: %v", res)
	}
	o := tom.query("Tom", &lcproto.ConvCommand{Where: byID(cid).Where, Flag: proto.Int32(2)})[0]
	if o["msg"] != `{"_lctype":-1,"_lctext":"hi"}` || o["msg_from"] != "Tom" || o["msg_mid"] != m.ID ||
		o["msg_timestamp"] != float64(m.Timestamp) || fmt.Sprint(o["mention_pids"]) != "[Jerry]" {
		t.Errorf("last message: %v", o)
	}
}

func TestConvChatRoom(t *testing.T) {
	srv := start(t)
	tom, pt := login(t, srv, "Tom")
	// The JS SDK's createChatRoom: m is the creator alone.
	r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Tom"}, Transient: proto.Bool(true), Unique: proto.Bool(false), Attr: jsonData(`{"name":"lobby"}`)})
	cid := wantConv(t, r, lcproto.OpType_started, "Tom").GetCid()
	// A chat room counts the clients online in it, which is the hub's
	// business (a session is online while its connection receives
	// events): the count is the Service's.
	count := func(c *client, peer string) {
		t.Helper()
		n := wantConv(t, c.conv(lcproto.OpType_count, &lcproto.ConvCommand{Cid: proto.String(cid)}), lcproto.OpType_result, peer).GetCount()
		if want, err := srv.Service().MemberCount(context.Background(), pt, cid); err != nil || int(n) != want {
			t.Errorf("count %d, the Service's %d (%v)", n, want, err)
		}
	}
	count(tom, "Tom")
	if !srv.Hub().InRoom(pt.SessionID, cid) {
		t.Error("the creator's session is not in the chat room")
	}
	res := tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{"tr":true}`)})
	if len(res) != 1 || res[0]["tr"] != true || res[0]["m"] != nil {
		t.Errorf("chat room query: %v", res)
	}

	// Joining is adding oneself; quitting removing oneself.
	jerry, _ := login(t, srv, "Jerry")
	add := wantConv(t, jerry.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Jerry"}}), lcproto.OpType_added, "Jerry")
	if fmt.Sprint(add.GetAllowedPids()) != "[Jerry]" || len(add.GetFailedPids()) != 0 {
		t.Errorf("join: %v", add)
	}
	count(jerry, "Jerry")
	members := wantConv(t, jerry.conv(lcproto.OpType_members, &lcproto.ConvCommand{Cid: proto.String(cid), Limit: proto.Int32(50)}), lcproto.OpType_result, "Jerry")
	if got := slices.Sorted(slices.Values(members.GetM())); fmt.Sprint(got) != "[Jerry Tom]" {
		t.Errorf("members: %v", members.GetM())
	}
	in := wantConv(t, jerry.conv(lcproto.OpType_is_member, &lcproto.ConvCommand{Cids: []string{cid}}), lcproto.OpType_result, "Jerry")
	if in.GetResults().GetData() != fmt.Sprintf(`{%q:true}`, cid) {
		t.Errorf("is_member: %v", in)
	}
	wantConv(t, jerry.conv(lcproto.OpType_remove, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Jerry"}}), lcproto.OpType_removed, "Jerry")
	count(tom, "Tom")
	if len(srv.Hub().RoomClients(cid)) != 1 {
		t.Errorf("after the quit, in the room: %v", srv.Hub().RoomClients(cid))
	}
	// Adding others to a chat room is not allowed.
	wantError(t, tom.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary"}}), gateway.CodeConversationNotAllowed)
	// Receipts are not for chat rooms.
	wantError(t, tom.conv(lcproto.OpType_max_read, &lcproto.ConvCommand{Cid: proto.String(cid)}), gateway.CodeConversationNotAllowed)
}

func TestConvTemporary(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	// The JS SDK v5 sends unique for temporary conversations too.
	r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry", "Tom"}, TempConv: proto.Bool(true), TempConvTTL: proto.Int32(3600), Unique: proto.Bool(true), Attr: jsonData(`{}`)})
	got := wantConv(t, r, lcproto.OpType_started, "Tom")
	cid := got.GetCid()
	if !strings.HasPrefix(cid, "_tmp:") || got.GetTempConvTTL() != 3600 {
		t.Fatalf("temporary: %v", got)
	}
	// Queries never list it; tempConvIds find it.
	if res := tom.query("Tom", byID(cid)); len(res) != 0 {
		t.Errorf("listed by a query: %v", res)
	}
	res := tom.query("Tom", &lcproto.ConvCommand{TempConvIds: []string{cid, "_tmp:gone"}})
	if len(res) != 1 || res[0]["objectId"] != cid || res[0]["temp"] != true {
		t.Fatalf("tempConvIds: %v", res)
	}
	if ttl, _ := res[0]["ttl"].(float64); ttl < 3590 || ttl > 3600 {
		t.Errorf("ttl %v, want the seconds left", res[0]["ttl"])
	}
	// Their members are fixed.
	wantError(t, tom.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary"}}), gateway.CodeConversationNotAllowed)
	// A negative TTL is malformed; both transient and tempConv too.
	wantError(t, tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Tom"}, TempConv: proto.Bool(true), TempConvTTL: proto.Int32(-1)}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Tom"}, TempConv: proto.Bool(true), Transient: proto.Bool(true)}), gateway.CodeConversationAPIFailed)
}

func TestConvUpdateAndMute(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry"}, `{"name":"old","topic":"cheese","attr":{"color":"red","size":1}}`)
	update := func(c *client, peer, attr string) *lcproto.GenericCommand {
		return c.conv(lcproto.OpType_update, &lcproto.ConvCommand{Cid: proto.String(cid), Attr: jsonData(attr)})
	}

	// The JS SDK's save: name and top-level keys.
	before := tom.query("Tom", byID(cid))[0]["updatedAt"].(string)
	time.Sleep(2 * time.Millisecond)
	u := wantConv(t, update(tom, "Tom", `{"name":"new","topic":"mice"}`), lcproto.OpType_updated, "Tom")
	if u.GetUdate() <= before {
		t.Errorf("udate %q, not after %q", u.GetUdate(), before)
	}
	var modified map[string]any
	if err := json.Unmarshal([]byte(u.GetAttrModified().GetData()), &modified); err != nil || modified["name"] != "new" || modified["topic"] != "mice" || len(modified) != 2 {
		t.Errorf("attrModified %q: %v", u.GetAttrModified().GetData(), err)
	}
	// The Swift SDK's: attr.key, read back nested; a Delete op removes.
	u = wantConv(t, update(tom, "Tom", `{"attr.color":"blue","attr.size":{"__op":"Delete"}}`), lcproto.OpType_updated, "Tom")
	if u.GetAttrModified().GetData() != `{"attr":{"color":"blue","size":null}}` {
		t.Errorf("attrModified %s", u.GetAttrModified().GetData())
	}
	o := tom.query("Tom", byID(cid))[0]
	if o["name"] != "new" || o["topic"] != "mice" || o["color"] != "blue" || o["size"] != nil || o["updatedAt"] != u.GetUdate() {
		t.Errorf("after the updates: %v", o)
	}
	// attr replaces every attribute.
	wantConv(t, update(tom, "Tom", `{"attr":{"only":true}}`), lcproto.OpType_updated, "Tom")
	if attr := tom.query("Tom", byID(cid))[0]["attr"]; fmt.Sprint(attr) != "map[only:true]" {
		t.Errorf("attr replaced: %v", attr)
	}

	// Refusals.
	mary, _ := login(t, srv, "Mary")
	wantError(t, update(mary, "Mary", `{"name":"mine"}`), gateway.CodeConversationMembershipNeeded)
	wantError(t, update(tom, "Tom", `{"color.text":"#333"}`), gateway.CodeConversationNotAllowed) // nested keys
	wantError(t, update(tom, "Tom", `{"m":["Tom"]}`), gateway.CodeConversationAPIFailed)
	wantError(t, update(tom, "Tom", `not json`), gateway.CodeConversationAPIFailed)
	wantError(t, update(tom, "Tom", `[1]`), gateway.CodeConversationAPIFailed)
	wantError(t, update(tom, "Tom", `{}`), gateway.CodeConversationAPIFailed)
	wantError(t, update(tom, "Tom", `{"name":3}`), gateway.CodeConversationAPIFailed)
	wantError(t, tom.conv(lcproto.OpType_update, &lcproto.ConvCommand{Cid: proto.String("nope"), Attr: jsonData(`{"name":"x"}`)}), gateway.CodeConversationNotFound)

	// Mute and unmute answer conv/updated; queries show them.
	wantConv(t, tom.conv(lcproto.OpType_mute, &lcproto.ConvCommand{Cid: proto.String(cid)}), lcproto.OpType_updated, "Tom")
	if o := tom.query("Tom", byID(cid))[0]; o["muted"] != true || fmt.Sprint(o["mu"]) != "[Tom]" {
		t.Errorf("after mute: %v", o)
	}
	wantConv(t, tom.conv(lcproto.OpType_unmute, &lcproto.ConvCommand{Cid: proto.String(cid)}), lcproto.OpType_updated, "Tom")
	if o := tom.query("Tom", byID(cid))[0]; o["muted"] != false || o["mu"] != nil {
		t.Errorf("after unmute: %v", o)
	}
	wantError(t, mary.conv(lcproto.OpType_mute, &lcproto.ConvCommand{Cid: proto.String(cid)}), gateway.CodeConversationMembershipNeeded)
}

func TestConvMembers(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry"}, `{}`)
	members := func(c *client, op lcproto.OpType, ids ...string) *lcproto.GenericCommand {
		return c.conv(op, &lcproto.ConvCommand{Cid: proto.String(cid), M: ids})
	}

	add := wantConv(t, members(tom, lcproto.OpType_add, "Mary", "Bob"), lcproto.OpType_added, "Tom")
	if fmt.Sprint(add.GetAllowedPids()) != "[Mary Bob]" || len(add.GetFailedPids()) != 0 || add.GetUdate() == "" {
		t.Errorf("add: %v", add)
	}
	if n := wantConv(t, tom.conv(lcproto.OpType_count, &lcproto.ConvCommand{Cid: proto.String(cid)}), lcproto.OpType_result, "Tom").GetCount(); n != 4 {
		t.Errorf("count %d", n)
	}
	rm := wantConv(t, members(tom, lcproto.OpType_remove, "Bob"), lcproto.OpType_removed, "Tom")
	if fmt.Sprint(rm.GetAllowedPids()) != "[Bob]" {
		t.Errorf("remove: %v", rm)
	}
	// Quitting is removing oneself; joining again adding oneself.
	mary, _ := login(t, srv, "Mary")
	wantConv(t, members(mary, lcproto.OpType_remove, "Mary"), lcproto.OpType_removed, "Mary")
	wantConv(t, members(mary, lcproto.OpType_add, "Mary"), lcproto.OpType_added, "Mary")
	in := wantConv(t, mary.conv(lcproto.OpType_is_member, &lcproto.ConvCommand{Cids: []string{cid, "nope"}}), lcproto.OpType_result, "Mary")
	var isIn map[string]bool
	if json.Unmarshal([]byte(in.GetResults().GetData()), &isIn) != nil || len(isIn) != 2 || !isIn[cid] || isIn["nope"] {
		t.Errorf("is_member: %s", in.GetResults().GetData())
	}

	// A member may not remove the owner: the refusal is per client.
	rm = wantConv(t, members(mary, lcproto.OpType_remove, "Tom"), lcproto.OpType_removed, "Mary")
	if len(rm.GetAllowedPids()) != 0 || len(rm.GetFailedPids()) != 1 {
		t.Fatalf("removing the owner: %v", rm)
	}
	if f := rm.GetFailedPids()[0]; f.GetCode() != gateway.CodeConversationUnauthorized || fmt.Sprint(f.GetPids()) != "[Tom]" || f.GetReason() == "" {
		t.Errorf("failedPids: %v", f)
	}
	// A blocked client cannot be added.
	bl := wantReply(t, tom.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{"Bob"}}), lcproto.CommandType_blacklist, lcproto.OpType_blocked, "Tom")
	if fmt.Sprint(bl.GetBlacklistMessage().GetAllowedPids()) != "[Bob]" {
		t.Errorf("block: %v", bl)
	}
	add = wantConv(t, members(tom, lcproto.OpType_add, "Bob"), lcproto.OpType_added, "Tom")
	if len(add.GetAllowedPids()) != 0 || len(add.GetFailedPids()) != 1 || add.GetFailedPids()[0].GetCode() != gateway.CodeBlockedByConv {
		t.Errorf("adding a blocked client: %v", add)
	}

	// Conversation-level refusals are errors.
	stranger, _ := login(t, srv, "Stranger")
	wantError(t, members(stranger, lcproto.OpType_add, "Eve"), gateway.CodeConversationMembershipNeeded)
	wantError(t, stranger.conv(lcproto.OpType_remove, &lcproto.ConvCommand{Cid: proto.String("nope"), M: []string{"Tom"}}), gateway.CodeConversationNotFound)
	wantError(t, members(tom, lcproto.OpType_add), gateway.CodeConversationAPIFailed) // nobody
	wantError(t, tom.conv(lcproto.OpType_add, &lcproto.ConvCommand{M: []string{"Eve"}}), gateway.CodeConversationAPIFailed)
	wantError(t, members(tom, lcproto.OpType_add, "bad:id"), gateway.CodeConversationAPIFailed)
}

func TestConvMaxRead(t *testing.T) {
	srv := start(t)
	ctx := context.Background()
	tom, pt := login(t, srv, "Tom")
	_, pj := login(t, srv, "Jerry")
	cid := tom.start("Tom", []string{"Jerry"}, `{}`)
	maxRead := func(all bool) *lcproto.ConvCommand {
		m := &lcproto.ConvCommand{Cid: proto.String(cid)}
		if all {
			m.QueryAllMembers = proto.Bool(true)
		}
		return wantConv(t, tom.conv(lcproto.OpType_max_read, m), lcproto.OpType_result, "Tom")
	}
	if r := maxRead(false); r.MaxReadTimestamp != nil || r.MaxAckTimestamp != nil {
		t.Errorf("before anything: %v", r)
	}
	text := -1
	msg, _, err := srv.Service().Send(ctx, pt, cid, handlers.SendRequest{Content: handlers.Content{Type: &text, Text: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Service().MarkDelivered(ctx, pj, cid, msg.ID); err != nil {
		t.Fatal(err)
	}
	if r := maxRead(false); r.GetMaxAckTimestamp() != msg.Timestamp || r.MaxReadTimestamp != nil {
		t.Errorf("delivered: %v, want maxAckTimestamp %d", r, msg.Timestamp)
	}
	if _, err := srv.Service().MarkRead(ctx, pj, []string{cid}, msg.ID); err != nil {
		t.Fatal(err)
	}
	if r := maxRead(false); r.GetMaxReadTimestamp() != msg.Timestamp {
		t.Errorf("read: %v", r)
	}
	all := maxRead(true)
	if len(all.GetMaxReadTuples()) != 1 || all.GetMaxReadTuples()[0].GetPid() != "Jerry" || all.GetMaxReadTuples()[0].GetMaxReadTimestamp() != msg.Timestamp {
		t.Errorf("queryAllMembers: %v", all)
	}
	mary, _ := login(t, srv, "Mary")
	wantError(t, mary.conv(lcproto.OpType_max_read, &lcproto.ConvCommand{Cid: proto.String(cid)}), gateway.CodeConversationMembershipNeeded)
}

func TestConvRolesAndShutup(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry", "Mary", "Bob"}, `{}`)
	setRole := func(c *client, target, role string) *lcproto.GenericCommand {
		return c.conv(lcproto.OpType_member_info_update, &lcproto.ConvCommand{Cid: proto.String(cid), TargetClientId: proto.String(target),
			Info: &lcproto.ConvMemberInfo{Pid: proto.String(target), Role: proto.String(role)}})
	}
	r := wantConv(t, setRole(tom, "Jerry", "Manager"), lcproto.OpType_member_info_updated, "Tom")
	if r.GetInfo().GetRole() != "Manager" || r.GetInfo().GetPid() != "Jerry" {
		t.Errorf("member_info_updated: %v", r)
	}
	members, err := srv.Service().ListMembers(context.Background(), handlers.Principal{Master: true}, cid)
	if err != nil || !slices.Contains(members, handlers.MemberInfo{ClientID: "Jerry", Role: handlers.RoleManager}) {
		t.Errorf("roles seen by the Service: %v, %v", members, err)
	}
	wantError(t, setRole(tom, "Jerry", "Emperor"), gateway.CodeUnknownConversationRole)
	wantError(t, tom.conv(lcproto.OpType_member_info_update, &lcproto.ConvCommand{Cid: proto.String(cid), Info: &lcproto.ConvMemberInfo{Role: proto.String("Member")}}), gateway.CodeConversationAPIFailed)
	jerry, _ := login(t, srv, "Jerry")
	wantError(t, setRole(jerry, "Mary", "Manager"), gateway.CodeConversationUnauthorized) // only the owner sets roles

	// Silence: the manager silences members, pages them.
	shut := wantConv(t, jerry.conv(lcproto.OpType_add_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary", "Bob"}}), lcproto.OpType_shutup_added, "Jerry")
	if fmt.Sprint(shut.GetAllowedPids()) != "[Mary Bob]" {
		t.Errorf("shutup_added: %v", shut)
	}
	q := wantConv(t, jerry.conv(lcproto.OpType_query_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), Limit: proto.Int32(1)}), lcproto.OpType_shutup_result, "Jerry")
	if fmt.Sprint(q.GetM()) != "[Bob]" || q.GetNext() != "Bob" {
		t.Errorf("first page: %v", q)
	}
	q = wantConv(t, jerry.conv(lcproto.OpType_query_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), Limit: proto.Int32(1), Next: q.Next}), lcproto.OpType_shutup_result, "Jerry")
	if fmt.Sprint(q.GetM()) != "[Mary]" || q.Next != nil {
		t.Errorf("second page: %v", q)
	}
	check := wantConv(t, jerry.conv(lcproto.OpType_check_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary", "Tom"}}), lcproto.OpType_check_result, "Jerry")
	if fmt.Sprint(check.GetM()) != "[Mary]" {
		t.Errorf("check_shutup: %v", check)
	}
	// A member may not silence the owner: per client.
	mary, _ := login(t, srv, "Mary")
	shut = wantConv(t, mary.conv(lcproto.OpType_add_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Tom"}}), lcproto.OpType_shutup_added, "Mary")
	if len(shut.GetAllowedPids()) != 0 || shut.GetFailedPids()[0].GetCode() != gateway.CodeConversationUnauthorized {
		t.Errorf("a member silencing the owner: %v", shut)
	}
	wantConv(t, jerry.conv(lcproto.OpType_remove_shutup, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary"}}), lcproto.OpType_shutup_removed, "Jerry")
	if q := wantConv(t, tom.conv(lcproto.OpType_query_shutup, &lcproto.ConvCommand{Cid: proto.String(cid)}), lcproto.OpType_shutup_result, "Tom"); fmt.Sprint(q.GetM()) != "[Bob]" {
		t.Errorf("after remove_shutup: %v", q)
	}
	wantError(t, tom.conv(lcproto.OpType_add_shutup, &lcproto.ConvCommand{Cid: proto.String(cid)}), gateway.CodeConversationAPIFailed)
	stranger, _ := login(t, srv, "Stranger")
	wantError(t, stranger.conv(lcproto.OpType_query_shutup, &lcproto.ConvCommand{Cid: proto.String(cid)}), gateway.CodeConversationMembershipNeeded)
}

func TestBlacklist(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry", "Mary"}, `{}`)
	for _, id := range []string{"Mary", "Bob", "Carl"} {
		wantReply(t, tom.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{id}}), lcproto.CommandType_blacklist, lcproto.OpType_blocked, "Tom")
	}
	// Blocking removed Mary.
	if conv, err := srv.Service().GetConversation(context.Background(), handlers.Principal{Master: true}, cid); err != nil || slices.Contains(conv.Members, "Mary") {
		t.Errorf("Mary still a member: %v, %v", conv, err)
	}
	q := wantReply(t, tom.blacklist(lcproto.OpType_query, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), Limit: proto.Int32(2)}), lcproto.CommandType_blacklist, lcproto.OpType_query_result, "Tom").GetBlacklistMessage()
	if fmt.Sprint(q.GetBlockedPids()) != "[Bob Carl]" || q.GetNext() != "Carl" {
		t.Errorf("first page: %v", q)
	}
	q = wantReply(t, tom.blacklist(lcproto.OpType_query, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), Next: q.Next}), lcproto.CommandType_blacklist, lcproto.OpType_query_result, "Tom").GetBlacklistMessage()
	if fmt.Sprint(q.GetBlockedPids()) != "[Mary]" || q.Next != nil {
		t.Errorf("second page: %v", q)
	}
	c := wantReply(t, tom.blacklist(lcproto.OpType_check_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{"Jerry", "Bob"}}), lcproto.CommandType_blacklist, lcproto.OpType_check_result, "Tom").GetBlacklistMessage()
	if fmt.Sprint(c.GetBlockedPids()) != "[Bob]" {
		t.Errorf("check_block: %v", c)
	}
	u := wantReply(t, tom.blacklist(lcproto.OpType_unblock, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{"Bob", "Carl"}}), lcproto.CommandType_blacklist, lcproto.OpType_unblocked, "Tom").GetBlacklistMessage()
	if fmt.Sprint(u.GetAllowedPids()) != "[Bob Carl]" || u.GetSrcCid() != cid {
		t.Errorf("unblocked: %v", u)
	}

	// Refusals.
	jerry, _ := login(t, srv, "Jerry")
	b := wantReply(t, jerry.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{"Tom"}}), lcproto.CommandType_blacklist, lcproto.OpType_blocked, "Jerry").GetBlacklistMessage()
	if len(b.GetAllowedPids()) != 0 || b.GetFailedPids()[0].GetCode() != gateway.CodeConversationUnauthorized {
		t.Errorf("a member blocking the owner: %v", b)
	}
	wantError(t, tom.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid)}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.blacklist(lcproto.OpType_query, &lcproto.BlacklistCommand{}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcPid: proto.String("Tom"), ToCids: []string{cid}}), gateway.CodeConversationNotAllowed)
	wantError(t, tom.blacklist(lcproto.OpType_query, &lcproto.BlacklistCommand{SrcCid: proto.String("nope")}), gateway.CodeConversationNotFound)
	wantError(t, tom.reply(&lcproto.GenericCommand{Cmd: lcproto.CommandType_blacklist.Enum(), Op: lcproto.OpType_block.Enum()}), gateway.CodeConversationAPIFailed)
	r := tom.blacklist(lcproto.OpType_members_blocked, nil)
	wantError(t, r, gateway.CodeInternal)
	if !strings.Contains(r.GetErrorMessage().GetReason(), "blacklist/members_blocked") {
		t.Errorf("reason %q", r.GetErrorMessage().GetReason())
	}
}

// Malformed commands are refused with an error command, never a panic or
// a disconnect.
func TestConvMalformed(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry"}, `{}`)
	// Every command that names a conversation needs its cid, even with no
	// convMessage at all.
	for _, op := range []lcproto.OpType{
		lcproto.OpType_update, lcproto.OpType_mute, lcproto.OpType_unmute, lcproto.OpType_add, lcproto.OpType_remove,
		lcproto.OpType_count, lcproto.OpType_max_read, lcproto.OpType_members, lcproto.OpType_member_info_update,
		lcproto.OpType_add_shutup, lcproto.OpType_remove_shutup, lcproto.OpType_query_shutup, lcproto.OpType_check_shutup,
		lcproto.OpType_is_member,
	} {
		r := tom.reply(&lcproto.GenericCommand{Cmd: lcproto.CommandType_conv.Enum(), Op: op.Enum()})
		if r.GetErrorMessage().GetCode() != gateway.CodeConversationAPIFailed || r.GetPeerId() != "Tom" {
			t.Errorf("conv/%v without convMessage: %v", op, r)
		}
	}
	wantError(t, tom.reply(&lcproto.GenericCommand{Cmd: lcproto.CommandType_conv.Enum()}), gateway.CodeInternal) // no op
	r := tom.conv(lcproto.OpType_joined, &lcproto.ConvCommand{Cid: proto.String(cid)})                           // a push's op
	wantError(t, r, gateway.CodeInternal)
	if !strings.Contains(r.GetErrorMessage().GetReason(), "conv/joined") {
		t.Errorf("reason %q", r.GetErrorMessage().GetReason())
	}
	for _, where := range []string{`{"objectId":`, `[1,2]`, `{"$bogus":1}`, `{"lm":{"$gt":"yesterday"}}`} {
		wantError(t, tom.conv(lcproto.OpType_query, &lcproto.ConvCommand{Where: jsonData(where)}), gateway.CodeConversationQueryFailed)
	}
	wantError(t, tom.conv(lcproto.OpType_query, &lcproto.ConvCommand{Sort: proto.String("m")}), gateway.CodeConversationQueryFailed)
	wantError(t, tom.conv(lcproto.OpType_query, &lcproto.ConvCommand{Limit: proto.Int32(-1)}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.conv(lcproto.OpType_query, &lcproto.ConvCommand{TempConvIds: make([]string, 101)}), gateway.CodeConversationAPIFailed)
	for _, attr := range []string{`nope`, `"a string"`, `{"name":1}`, `{"attr":[1]}`, `{"m":["Jerry"]}`, `{"bad.key":1}`} {
		wantError(t, tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry"}, Attr: jsonData(attr)}), gateway.CodeConversationAPIFailed)
	}
	wantError(t, tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"a:b"}}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: make([]string, 600)}), gateway.CodeConversationAPIFailed)
	wantError(t, tom.conv(lcproto.OpType_member_info_update, &lcproto.ConvCommand{Cid: proto.String(cid), TargetClientId: proto.String("Jerry"),
		Info: &lcproto.ConvMemberInfo{Pid: proto.String("Mary"), Role: proto.String("Manager")}}), gateway.CodeConversationAPIFailed)

	// After all that, the connection still works.
	if res := tom.query("Tom", byID(cid)); len(res) != 1 {
		t.Fatalf("query after the errors: %v", res)
	}
}

// Conversations are one set: those made through the gateway are the HTTP
// API's, and the other way round.
func TestConvSharedWithHTTP(t *testing.T) {
	const key = "0123456789abcdef0123"
	srv := start(t, func(c *server.Config) { c.MasterKey, c.AppID = key, "myApp" })
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	st := c.open("Tom").GetSessionMessage().GetSt()
	cid := c.start("Tom", []string{"Jerry"}, `{"name":"over rtm","topic":"cheese"}`)

	call := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, "http://"+srv.Addr.String()+path, strings.NewReader(body))
		if strings.HasPrefix(path, "/1.2/") { // LeanCloud's REST API, as a backend calls it
			req.Header.Set("X-LC-Id", "myApp")
			req.Header.Set("X-LC-Key", key+",master")
		} else {
			req.Header.Set("Authorization", "Bearer "+st)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return out
	}
	got := call("GET", "/v1/conversations/"+cid, "")
	if got["name"] != "over rtm" || fmt.Sprint(got["members"]) != "[Jerry Tom]" || fmt.Sprint(got["attributes"]) != "map[topic:cheese]" {
		t.Errorf("the HTTP API's view: %v", got)
	}
	if got := call("GET", "/1.2/rtm/conversations/"+cid, ""); got["name"] != "over rtm" || fmt.Sprint(got["attr"]) != "map[topic:cheese]" {
		t.Errorf("LeanCloud's REST API's view: %v", got)
	}
	made := call("POST", "/v1/conversations", `{"members":["Mary"],"name":"over http","attributes":{"k":"v"}}`)
	res := c.query("Tom", byID(made["id"].(string)))
	if len(res) != 1 || res[0]["name"] != "over http" || res[0]["k"] != "v" || fmt.Sprint(res[0]["m"]) != "[Mary Tom]" {
		t.Errorf("the gateway's view: %v", res)
	}
	// A change over the gateway is the HTTP API's too.
	wantConv(t, c.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary"}}), lcproto.OpType_added, "Tom")
	if got := call("GET", "/v1/conversations/"+cid, ""); fmt.Sprint(got["members"]) != "[Jerry Tom Mary]" {
		t.Errorf("members after conv/add: %v", got["members"])
	}
	// One made through LeanCloud's REST API, custom fields and all.
	lc := call("POST", "/1.2/rtm/conversations", `{"name":"over lcapi","m":["Tom","Bob"],"c":"Tom","level":2}`)
	res = c.query("Tom", byID(lc["objectId"].(string)))
	if len(res) != 1 || res[0]["name"] != "over lcapi" || res[0]["level"] != 2.0 {
		t.Errorf("the gateway's view of a REST-made conversation: %v", res)
	}
}

// In signature mode, conv/start, conv/add and blacklist/block carry
// LeanCloud's signatures (s, t, n), checked by the rules.
func TestConvSignatures(t *testing.T) {
	const key = "0123456789abcdef0123"
	srv := start(t, func(c *server.Config) { c.AuthMode, c.MasterKey, c.AppID = "signature", key, "myApp" })
	sign := func(parts ...string) string {
		mac := hmac.New(sha1.New, []byte(key))
		mac.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(mac.Sum(nil))
	}
	ts := time.Now().UnixMilli()
	tss := fmt.Sprint(ts)
	c := dial(t, srv, "/rtm", gateway.SubprotocolBinary)
	r := c.request(&lcproto.GenericCommand{
		Cmd: lcproto.CommandType_session.Enum(), Op: lcproto.OpType_open.Enum(), PeerId: proto.String("Tom"),
		SessionMessage: &lcproto.SessionCommand{S: proto.String(sign("myApp", "Tom", "", tss, "n0")), T: proto.Int64(ts), N: proto.String("n0")},
	})
	if r.GetOp() != lcproto.OpType_opened {
		t.Fatalf("open: %v", r)
	}
	startCmd := func(sig, nonce string) *lcproto.GenericCommand {
		return c.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry", "Tom"}, Attr: jsonData(`{}`),
			S: proto.String(sig), T: proto.Int64(ts), N: proto.String(nonce)})
	}
	wantError(t, startCmd("deadbeef", "n1"), gateway.CodeConversationSignature)
	cid := wantConv(t, startCmd(sign("myApp", "Tom", "Jerry:Tom", tss, "n1"), "n1"), lcproto.OpType_started, "Tom").GetCid()

	add := func(sig, nonce string) *lcproto.GenericCommand {
		return c.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(cid), M: []string{"Mary"}, S: proto.String(sig), T: proto.Int64(ts), N: proto.String(nonce)})
	}
	wantError(t, add(sign("myApp", "Tom", cid, "Mary", tss, "n2", "kick"), "n2"), gateway.CodeConversationSignature)
	wantConv(t, add(sign("myApp", "Tom", cid, "Mary", tss, "n2", "invite"), "n2"), lcproto.OpType_added, "Tom")

	block := func(sig, nonce string) *lcproto.GenericCommand {
		return c.blacklist(lcproto.OpType_block, &lcproto.BlacklistCommand{SrcCid: proto.String(cid), ToPids: []string{"Mary"}, S: proto.String(sig), T: proto.Int64(ts), N: proto.String(nonce)})
	}
	wantError(t, block("deadbeef", "n3"), gateway.CodeBlacklistSignature)
	wantReply(t, block(sign("myApp", "Tom", cid, "Mary", tss, "n3", "conversation-block-clients"), "n3"), lcproto.CommandType_blacklist, lcproto.OpType_blocked, "Tom")
}

// The app's hooks refuse with 4305 and their own code and detail.
func TestConvHookRejects(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.HasSuffix(r.URL.Path, "/_conversationStart") && bytes.Contains(body, []byte("forbidden")):
			io.WriteString(w, `{"result":{"reject":true,"code":1234,"detail":"no such topic"}}`)
		default:
			io.WriteString(w, `{"result":{}}`)
		}
	}))
	defer hook.Close()
	srv := start(t, func(c *server.Config) { c.HooksURL = hook.URL })
	tom, _ := login(t, srv, "Tom")
	r := tom.conv(lcproto.OpType_start, &lcproto.ConvCommand{M: []string{"Jerry", "Tom"}, Attr: jsonData(`{"name":"forbidden"}`)})
	wantError(t, r, gateway.CodeConversationRejectedByApp)
	if e := r.GetErrorMessage(); e.GetAppCode() != 1234 || e.GetDetail() != "no such topic" {
		t.Errorf("hook refusal: %v", e)
	}
	tom.start("Tom", []string{"Jerry"}, `{"name":"fine"}`)
}

// A client subscribes to a system conversation by adding itself, and
// unsubscribes by removing itself (the SDKs' ServiceConversation).
func TestConvSystemSubscribe(t *testing.T) {
	srv := start(t)
	sys, _, err := srv.Service().CreateConversation(context.Background(), handlers.Principal{Master: true},
		handlers.CreateConversationRequest{Kind: handlers.KindSystem, Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	tom, _ := login(t, srv, "Tom")
	if res := tom.query("Tom", &lcproto.ConvCommand{Where: jsonData(`{"sys":true}`)}); len(res) != 1 || res[0]["sys"] != true || res[0]["conv_type"] != 3.0 {
		t.Fatalf("system conversations: %v", res)
	}
	isMember := func() bool {
		r := wantConv(t, tom.conv(lcproto.OpType_is_member, &lcproto.ConvCommand{Cids: []string{sys.ID}}), lcproto.OpType_result, "Tom")
		var in map[string]bool
		if err := json.Unmarshal([]byte(r.GetResults().GetData()), &in); err != nil {
			t.Fatal(err)
		}
		return in[sys.ID]
	}
	if isMember() {
		t.Fatal("subscribed before subscribing")
	}
	add := wantConv(t, tom.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(sys.ID), M: []string{"Tom"}}), lcproto.OpType_added, "Tom")
	if fmt.Sprint(add.GetAllowedPids()) != "[Tom]" || !isMember() {
		t.Fatalf("subscribe: %v", add)
	}
	wantConv(t, tom.conv(lcproto.OpType_remove, &lcproto.ConvCommand{Cid: proto.String(sys.ID), M: []string{"Tom"}}), lcproto.OpType_removed, "Tom")
	if isMember() {
		t.Fatal("subscribed after unsubscribing")
	}
	// Clients neither create nor change system conversations.
	wantError(t, tom.conv(lcproto.OpType_update, &lcproto.ConvCommand{Cid: proto.String(sys.ID), Attr: jsonData(`{"name":"mine"}`)}), gateway.CodeConversationUnauthorized)
	wantError(t, tom.conv(lcproto.OpType_add, &lcproto.ConvCommand{Cid: proto.String(sys.ID), M: []string{"Jerry"}}), gateway.CodeConversationNotAllowed)
}

// Every conv and blacklist op, given odd values in every field, answers
// with a reply or an error command and the connection goes on.
func TestConvOddInput(t *testing.T) {
	srv := start(t)
	tom, _ := login(t, srv, "Tom")
	cid := tom.start("Tom", []string{"Jerry"}, `{}`)
	odd := []*lcproto.ConvCommand{
		{Cid: proto.String(cid), M: []string{"", strings.Repeat("x", 100), "a\x00b"}, Attr: jsonData(`{"":1,"$x":{"__op":"Delete"}}`),
			Where: jsonData(`{"m":{"$size":-1,"$all":[1]}}`), Sort: proto.String("--"), Limit: proto.Int32(-5), Skip: proto.Int32(-1),
			Flag: proto.Int32(-1), TempConvTTL: proto.Int32(1 << 30), TempConvIds: []string{""}, Cids: []string{""},
			TargetClientId: proto.String("Jerry"), Info: &lcproto.ConvMemberInfo{Role: proto.String("")}, Next: proto.String("\xff"),
			QueryAllMembers: proto.Bool(true), S: proto.String("x"), T: proto.Int64(-1), N: proto.String(":")},
		{Cid: proto.String(cid), M: []string{"Jerry"}, Attr: jsonData(`{"attr":{"k":{"__type":"Date","iso":"x"}},"name":""}`),
			Where: jsonData(`{"$or":[]}`), Limit: proto.Int32(1 << 30), TempConv: proto.Bool(true), TempConvTTL: proto.Int32(1 << 30)},
		{Cid: proto.String("_tmp:" + cid), M: make([]string, 51), Attr: jsonData(strings.Repeat("[", 10000))},
	}
	ops := []lcproto.OpType{}
	for op := range lcproto.OpType_name {
		ops = append(ops, lcproto.OpType(op))
	}
	for _, op := range ops {
		for _, m := range odd {
			r := tom.conv(op, proto.Clone(m).(*lcproto.ConvCommand))
			b := tom.blacklist(op, &lcproto.BlacklistCommand{SrcCid: m.Cid, ToPids: m.M, Limit: m.Limit, Next: m.Next, S: m.S, T: m.T, N: m.N})
			for _, x := range []struct {
				r   *lcproto.GenericCommand
				cmd lcproto.CommandType
			}{{r, lcproto.CommandType_conv}, {b, lcproto.CommandType_blacklist}} {
				if x.r.GetCmd() != x.cmd && x.r.GetCmd() != lcproto.CommandType_error {
					t.Fatalf("%v/%v answered %v", x.cmd, op, x.r)
				}
				// 4200 only for what is not served: no internal failure.
				if e := x.r.GetErrorMessage(); e.GetCode() == gateway.CodeInternal && !strings.HasPrefix(e.GetReason(), "not supported") {
					t.Errorf("%v/%v: an internal error: %v", x.cmd, op, e)
				}
			}
		}
	}
	if res := tom.query("Tom", byID(cid)); len(res) != 1 {
		t.Fatalf("after the odd input: %v", res)
	}
}

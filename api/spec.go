package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
	"github.com/parley-im/parley/handlers"
)

// metaCodes is the operation metadata key holding its documented error codes.
const metaCodes = "codes"

type specFiles struct {
	json, yaml, yaml30 []byte
}

func (f specFiles) serve(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write(body)
	}
}

func reflectTypeOf(v any) reflect.Type { return reflect.TypeOf(v) }

// buildSpec completes what huma generated from the operations (error
// examples for every code, the event stream's media type, examples of
// requests and responses) and renders the files served and committed.
func buildSpec(o *huma.OpenAPI) specFiles {
	for _, item := range o.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				completeOperation(o, op)
			}
		}
	}
	j, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		panic(err)
	}
	y, err := o.YAML()
	if err != nil {
		panic(err)
	}
	y30, err := downgradeYAML(o)
	if err != nil {
		panic(err)
	}
	return specFiles{json: append(j, '\n'), yaml: y, yaml30: y30}
}

// downgradeYAML is huma's downgrade to OpenAPI 3.0 (DowngradeYAML),
// without what it carries over that 3.0 has no place for: the licence's
// SPDX identifier (3.1's) and schemas' contentMediaType (JSON Schema's; 3.0
// has format: binary, which those schemas also say).
func downgradeYAML(o *huma.OpenAPI) ([]byte, error) {
	b, err := o.Downgrade()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if info, ok := doc["info"].(map[string]any); ok {
		if license, ok := info["license"].(map[string]any); ok {
			delete(license, "identifier")
		}
	}
	dropContentMediaType(doc)
	if b, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	var y bytes.Buffer
	err = yaml.Convert(&y, bytes.NewReader(b))
	return y.Bytes(), err
}

// dropContentMediaType removes contentMediaType from every schema (an
// object with a type) in v.
func dropContentMediaType(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, isSchema := v["type"].(string); isSchema {
			if _, ok := v["contentMediaType"].(string); ok {
				delete(v, "contentMediaType")
			}
		}
		for _, e := range v {
			dropContentMediaType(e)
		}
	case []any:
		for _, e := range v {
			dropContentMediaType(e)
		}
	}
}

func completeOperation(o *huma.OpenAPI, op *huma.Operation) {
	// Schema violations answer 400, so huma's 422 is not a response we give.
	delete(op.Responses, "422")
	codes, _ := op.Metadata[metaCodes].([]handlers.Code)
	for _, code := range codes {
		status := strconv.Itoa(statusOf[code])
		resp := op.Responses[status]
		if resp == nil {
			continue
		}
		mt := resp.Content["application/problem+json"]
		if mt == nil {
			continue
		}
		if mt.Examples == nil {
			mt.Examples = map[string]*huma.Example{}
		}
		mt.Examples[string(code)] = &huma.Example{
			Summary: string(code),
			Value:   newProblem(statusOf[code], code, errorExamples[code]),
		}
	}
	if op.OperationID == "openEventStream" {
		op.Responses["200"].Content = map[string]*huma.MediaType{"text/event-stream": eventStreamContent(o.Components.Schemas)}
	}
	if desc, ok := alsoOK[op.OperationID]; ok && op.Responses["200"] == nil {
		if created := op.Responses["201"]; created != nil {
			content := make(map[string]*huma.MediaType, len(created.Content))
			for ct, mt := range created.Content {
				c := *mt
				content[ct] = &c
			}
			op.Responses["200"] = &huma.Response{Description: desc, Headers: created.Headers, Content: content}
		}
	}
	if desc, ok := alsoAccepted[op.OperationID]; ok && op.Responses["202"] == nil {
		if created := op.Responses["201"]; created != nil {
			content := make(map[string]*huma.MediaType, len(created.Content))
			for ct, mt := range created.Content {
				c := *mt
				content[ct] = &c
			}
			op.Responses["202"] = &huma.Response{Description: desc, Headers: created.Headers, Content: content}
		}
	}
	if ex, ok := requestExamples[op.OperationID]; ok && op.RequestBody != nil {
		if mt := op.RequestBody.Content["application/json"]; mt != nil {
			mt.Example = ex
		}
	}
	for status, resp := range op.Responses {
		if status[0] != '2' {
			continue
		}
		if mt := resp.Content["application/json"]; mt != nil {
			if ex, ok := responseExamples[op.OperationID]; ok {
				mt.Example = ex
			}
		}
	}
}

// alsoOK documents the 200 answer of the operations whose output sets its
// status: huma documents only their default 201.
var alsoOK = map[string]string{
	"createConversation": "unique: true found the existing unique conversation with exactly these members",
	"sendMessage":        "clientMessageId matched an earlier send of this client in this conversation: the original message; nothing is delivered again",
}

// alsoAccepted documents the 202 answer of the operations whose output sets
// that status.
var alsoAccepted = map[string]string{
	"sendMessage": "will: true: the message is held as the session's will (its id stays empty) and sent only if the session drops abruptly",
}

var errorExamples = map[handlers.Code]string{
	handlers.CodeInvalidRequest:        "validation failed: expected string (body.clientId)",
	handlers.CodeInvalidQuery:          "where: unknown operator $near",
	handlers.CodeUnauthorized:          "missing, invalid or expired credentials",
	handlers.CodeSignatureInvalid:      "the signature does not match",
	handlers.CodeSessionConflict:       "this session was replaced by a newer login with the same tag",
	handlers.CodeForbidden:             "an event stream belongs to a session: log in",
	handlers.CodeNotAMember:            "you are not a member of this conversation",
	handlers.CodeConversationNotFound:  "no such conversation",
	handlers.CodeMessageNotFound:       "no message \"1kb0p2qk000\" in this conversation",
	handlers.CodeOperationNotSupported: "membership of temporary conversations cannot be changed this way",
	handlers.CodeMemberLimit:           "a normal conversation has at most 500 members",
	handlers.CodeMessageTooLarge:       "the encoded content is 6012 bytes; at most 5120 are allowed",
	handlers.CodeFileTooLarge:          "the file is larger than the upload limit of 20971520 bytes",
	handlers.CodeFileNotFound:          "no such file",
	handlers.CodeRateLimited:           "too many requests; retry later",
	handlers.CodeMessageRejected:       "no links, please",
	handlers.CodeOperationRejected:     "groups are created by the support team",
	handlers.CodeHookFailed:            "the app's _messageReceived hook failed; nothing was done, try again later",
	handlers.CodeMemberSilenced:        "you are silenced in this conversation",
	handlers.CodeClientBlocked:         "blocked in this conversation: [Mary]",
	codeInternal:                       "the server failed; the error was logged",
}

func intp(v int) *int       { return &v }
func int64p(v int64) *int64 { return &v }

var (
	exampleConversation = handlers.Conversation{
		ID: "6v1ofs2k0ha2e4ktl0s0", Kind: "normal", Name: "Tom & Jerry", Creator: "Tom",
		Members: []string{"Jerry", "Tom"}, Attributes: map[string]any{"topic": "cheese"},
		CreatedAt: 1795449600000, UpdatedAt: 1795449600000, LastMessageAt: int64p(1795449660000),
	}
	exampleMessage = handlers.Message{
		ID: "1kb0p2qk000", ConversationID: "6v1ofs2k0ha2e4ktl0s0", From: "Tom",
		Content:   handlers.Content{Type: intp(handlers.TypeText), Text: "Hello Jerry!"},
		Timestamp: 1795449660000,
	}
	exampleEdited = handlers.Message{
		ID: "1kb0p2qk000", ConversationID: "6v1ofs2k0ha2e4ktl0s0", From: "Tom",
		Content:   handlers.Content{Type: intp(handlers.TypeText), Text: "Hello Jerry! (edited)"},
		Timestamp: 1795449660000, PatchedAt: int64p(1795449720000),
	}
	exampleRecalled = handlers.Message{ID: "1kb0p2qk000", ConversationID: "6v1ofs2k0ha2e4ktl0s0", From: "Tom",
		Timestamp: 1795449660000, Recalled: true}
	exampleUnread = handlers.UnreadEvent{Conversations: []handlers.UnreadEntry{{
		ConversationID: "6v1ofs2k0ha2e4ktl0s0", UnreadMessagesCount: 2, Mentioned: true, LastMessage: &exampleMessage,
	}}}
	exampleDevice = handlers.Device{Platform: "ios", Token: "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad",
		CreatedAt: 1795449600000, UpdatedAt: 1795449600000}
	requestExamples = map[string]any{
		"createSession":      map[string]any{"clientId": "Tom", "tag": "Web"},
		"createConversation": map[string]any{"members": []string{"Jerry"}, "name": "Tom & Jerry", "attributes": map[string]any{"topic": "cheese"}},
		"addMembers":         map[string]any{"clientIds": []string{"Mary"}},
		"updateConversation": map[string]any{"name": "Cheese lovers", "attributes": map[string]any{"topic": "brie", "old": nil}},
		"editMessage":        map[string]any{"type": -1, "text": "Hello Jerry! (edited)"},
		"markRead":           map[string]any{"messageId": "1kb0p2qk000"},
		"markManyRead":       map[string]any{"conversationIds": []string{"6v1ofs2k0ha2e4ktl0s0"}},
		"markDelivered":      map[string]any{"messageId": "1kb0p2qk000"},
		"subscribePresence":  map[string]any{"clientIds": []string{"Jerry"}},
		"adminSendMessage":   map[string]any{"from": "support", "type": -1, "text": "Your order has shipped."},
		"broadcast":          map[string]any{"conversationId": "sttnd6692t1v4cbaa9v0", "message": map[string]any{"type": -1, "text": "Maintenance tonight at 2:00."}},
		"removeMembers":      map[string]any{"clientIds": []string{"Mary"}},
		"putSensitiveWords":  map[string]any{"words": []string{"darn", "heck"}},
		"registerDevice":     map[string]any{"platform": "ios", "token": "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"},
		"joinConversation":   map[string]any{"signature": "5c1b8e6f0a3c0b3f7d9e2c4a1b0f9e8d7c6b5a49", "timestamp": 1796054400, "nonce": "7f3a9c2e1b5d4f60"},
		"sendMessage":        map[string]any{"type": -1, "text": "Hello Jerry!", "clientMessageId": "c0ffee-1"},
		"setMemberRole":      map[string]any{"role": "manager"},
		"silenceMembers":     map[string]any{"clientIds": []string{"Mary"}, "ttl": 3600},
		"unsilenceMembers":   map[string]any{"clientIds": []string{"Mary"}},
		"blockClients":       map[string]any{"clientIds": []string{"Mary"}},
		"unblockClients":     map[string]any{"clientIds": []string{"Mary"}},
	}
	responseExamples = map[string]any{
		"createSession": handlers.LoginResult{SessionID: "0t5bq1m6k3v8a2d4e6g0", ClientID: "Tom", Tag: "Web",
			Token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiIwdDViLi4uIn0.c2lnbmF0dXJl", ExpiresAt: 1796054400000},
		"createConversation": exampleConversation,
		"getConversation":    exampleConversation,
		"addMembers":         exampleConversation,
		"removeMembers":      exampleConversation,
		"joinConversation":   exampleConversation,
		"quitConversation":   exampleConversation,
		"countMembers":       map[string]any{"count": 2},
		"sendMessage":        exampleMessage,
		"listMessages":       handlers.HistoryPage{Messages: []*handlers.Message{&exampleMessage}, HasMore: false},
		"queryConversations": map[string]any{"results": []handlers.Conversation{exampleConversation}},
		"updateConversation": exampleConversation,
		"muteConversation":   exampleConversation,
		"unmuteConversation": exampleConversation,
		"editMessage":        exampleEdited,
		"recallMessage":      exampleRecalled,
		"adminSendMessage":   exampleMessage,
		"broadcast":          exampleMessage,
		"putSensitiveWords":  handlers.SensitiveWords{Words: []string{"darn", "heck"}},
		"getSensitiveWords":  handlers.SensitiveWords{Words: []string{"darn", "heck"}},
		"registerDevice":     exampleDevice,
		"listDevices":        map[string]any{"devices": []handlers.Device{exampleDevice}},
		"markRead":           exampleUnread,
		"markManyRead":       exampleUnread,
		"getUnread":          exampleUnread,
		"onlineClients":      map[string]any{"online": map[string]bool{"Tom": true, "Jerry": false}},
		"subscribePresence":  map[string]any{"online": map[string]bool{"Jerry": true}},
		"listMembers": map[string]any{"members": []handlers.MemberInfo{{ClientID: "Tom", Role: handlers.RoleOwner},
			{ClientID: "Jerry", Role: handlers.RoleManager}, {ClientID: "Mary", Role: handlers.RoleMember, SilencedUntil: int64p(1795453200000)}}},
		"setMemberRole":    handlers.MemberInfo{ClientID: "Jerry", Role: handlers.RoleManager},
		"silenceMembers":   handlers.ClientList{ClientIDs: []string{"Mary"}},
		"unsilenceMembers": handlers.ClientList{ClientIDs: []string{}},
		"listSilenced":     handlers.ClientList{ClientIDs: []string{"Mary"}},
		"blockClients":     handlers.ClientList{ClientIDs: []string{"Mary"}},
		"unblockClients":   handlers.ClientList{ClientIDs: []string{}},
		"listBlocked":      handlers.ClientList{ClientIDs: []string{"Mary"}},
	}
)

// documentLicense is the document's info.license. Parley has no licence
// file (no LICENSE or COPYING, nothing in the README), so no licence has
// been granted: the document says so rather than claim one, with the SPDX
// form of a licence that is not on SPDX's list (LicenseRef-). When the
// project adopts a licence, name it here with its SPDX identifier and put
// its text at the repository's root (TestLicenseMatchesRepository fails
// until both are done).
var documentLicense = &huma.License{
	Name:       "Proprietary: all rights reserved (no licence has been granted)",
	Identifier: "LicenseRef-Proprietary",
}

const apiDescription = `Parley is a self-hosted instant-messaging backend: one-to-one chat, group chat,
open chat rooms, temporary conversations and system conversations, served as REST endpoints plus one
Server-Sent-Events stream per client session (GET /v1/events). Its semantics follow the LeanCloud IM
guides.

Authenticate as a client with the session token from POST /v1/sessions (Authorization: Bearer), or
as the application's backend with X-Master-Key. Errors are RFC 9457 problem documents
(application/problem+json) with a stable code beside status, title and detail; a query parameter an
operation does not list answers 400 INVALID_REQUEST rather than being ignored. Every time field is
milliseconds since the Unix epoch.`

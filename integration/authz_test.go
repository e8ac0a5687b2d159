package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The principals of the authorization matrix, as the README's table has
// them: who calls, relative to one group conversation.
var authzPrincipals = []string{"anonymous", "non-member", "member", "manager", "owner", "blocked", "silenced", "master key"}

// authzOp is one conversation operation of the matrix: its request, made
// afresh against a new group for every principal.
type authzOp struct {
	id, name, method, path, body string // path and body may hold {conv}, {msg} and {file}
}

// The conversation operations. Every one runs against a fresh group made
// by "owner" with "manager" (made manager), "member", "silenced" (a member,
// silenced) and "blocked" (blocked), and one message of the owner's.
var authzOps = []authzOp{
	{"getConversation", "get conversation", "GET", "/v1/conversations/{conv}", ""},
	{"updateConversation", "rename", "PATCH", "/v1/conversations/{conv}", `{"name":"renamed"}`},
	{"muteConversation", "mute", "POST", "/v1/conversations/{conv}/mute", ""},
	{"unmuteConversation", "unmute", "POST", "/v1/conversations/{conv}/unmute", ""},
	{"addMembers", "add a member", "POST", "/v1/conversations/{conv}/members", `{"clientIds":["newcomer"]}`},
	{"removeMembers", "remove a member", "POST", "/v1/conversations/{conv}/members/remove", `{"clientIds":["member"]}`},
	{"removeMembers", "remove the owner", "POST", "/v1/conversations/{conv}/members/remove", `{"clientIds":["owner"]}`},
	{"joinConversation", "join", "POST", "/v1/conversations/{conv}/join", "{}"},
	{"quitConversation", "quit", "POST", "/v1/conversations/{conv}/quit", ""},
	{"countMembers", "count members", "GET", "/v1/conversations/{conv}/members/count", ""},
	{"listMembers", "list members", "GET", "/v1/conversations/{conv}/members", ""},
	{"sendMessage", "send", "POST", "/v1/conversations/{conv}/messages", `{"type":-1,"text":"hi"}`},
	{"listMessages", "read history", "GET", "/v1/conversations/{conv}/messages", ""},
	{"editMessage", "edit the owner's message", "PATCH", "/v1/conversations/{conv}/messages/{msg}", `{"type":-1,"text":"edited"}`},
	{"recallMessage", "recall the owner's message", "DELETE", "/v1/conversations/{conv}/messages/{msg}", ""},
	{"markRead", "mark read", "POST", "/v1/conversations/{conv}/read", "{}"},
	{"markDelivered", "mark delivered", "POST", "/v1/conversations/{conv}/delivered", "{}"},
	{"setMemberRole", "set a role", "PATCH", "/v1/conversations/{conv}/members/member", `{"role":"manager"}`},
	{"silenceMembers", "silence a member", "POST", "/v1/conversations/{conv}/silenced", `{"clientIds":["member"]}`},
	{"unsilenceMembers", "lift a silence", "POST", "/v1/conversations/{conv}/silenced/remove", `{"clientIds":["silenced"]}`},
	{"listSilenced", "list silenced", "GET", "/v1/conversations/{conv}/silenced", ""},
	{"blockClients", "block a member", "POST", "/v1/conversations/{conv}/blocked", `{"clientIds":["member"]}`},
	{"unblockClients", "unblock", "POST", "/v1/conversations/{conv}/blocked/remove", `{"clientIds":["blocked"]}`},
	{"listBlocked", "list blocked", "GET", "/v1/conversations/{conv}/blocked", ""},
	{"adminSendMessage", "send as a member (admin)", "POST", "/v1/admin/conversations/{conv}/messages", `{"from":"member","type":-1,"text":"from the backend"}`},
	// Operations outside the group: the caller's own, or the backend's.
	{"createConversation", "create a conversation", "POST", "/v1/conversations", `{"members":["member"]}`},
	{"queryConversations", "query conversations", "GET", "/v1/conversations", ""},
	{"getUnread", "unread counts", "GET", "/v1/unread", ""},
	{"markManyRead", "mark conversations read", "POST", "/v1/conversations/read", `{"conversationIds":["{conv}"]}`},
	{"onlineClients", "who is online", "GET", "/v1/clients/online?ids=member", ""},
	{"subscribePresence", "watch presence", "POST", "/v1/presence/subscribe", `{"clientIds":["member"]}`},
	{"openEventStream", "open the event stream", "GET", "/v1/events", ""},
	{"registerDevice", "register a device", "POST", "/v1/devices", `{"platform":"ios","token":"phone"}`},
	{"listDevices", "list devices", "GET", "/v1/devices", ""},
	{"unregisterDevice", "unregister a device", "DELETE", "/v1/devices/phone", ""},
	{"uploadFile", "upload a file", "POST", "/v1/files", "multipart"},
	{"downloadFile", "download a file", "GET", "/v1/files/{file}", ""},
	{"broadcast", "broadcast", "POST", "/v1/admin/broadcasts", `{"toAllOnline":true,"message":{"type":-1,"text":"maintenance"}}`},
	{"putSensitiveWords", "set sensitive words", "PUT", "/v1/admin/sensitive-words", `{"words":["darn"]}`},
	{"getSensitiveWords", "read sensitive words", "GET", "/v1/admin/sensitive-words", ""},
	{"createSession", "log in", "POST", "/v1/sessions", `{"clientId":"visitor"}`},
	// Last: it ends the callers' sessions.
	{"deleteCurrentSession", "log out", "DELETE", "/v1/sessions/current", ""},
}

// TestAuthorizationMatrix runs every conversation operation as every
// principal and checks the answer against the table in the README
// ("Who may do what"), which it reads: the table is the contract.
func TestAuthorizationMatrix(t *testing.T) {
	h := start(t)
	tokens := map[string]string{}
	for _, c := range []string{"owner", "manager", "member", "silenced", "blocked", "stranger", "newcomer"} {
		tokens[c] = h.login(c).Token
	}
	call := func(who, method, path, body string) (int, []byte) {
		t.Helper()
		var rd io.Reader = strings.NewReader(body)
		contentType := "application/json"
		if body == "multipart" {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			part, _ := mw.CreateFormFile("file", "note.txt")
			part.Write([]byte("cheese"))
			mw.Close()
			rd, contentType = &buf, mw.FormDataContentType()
		}
		cx, cancel := context.WithCancel(ctx(t))
		defer cancel()
		req, err := http.NewRequestWithContext(cx, method, h.base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", contentType)
		}
		switch who {
		case "anonymous":
		case "master key":
			req.Header.Set("X-Master-Key", h.srv.MasterKey)
		case "non-member":
			req.Header.Set("Authorization", "Bearer "+tokens["stranger"])
		default:
			req.Header.Set("Authorization", "Bearer "+tokens[who])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			return resp.StatusCode, nil // a stream: its answer is its status
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	must := func(who, method, path, body string, want int) []byte {
		t.Helper()
		status, b := call(who, method, path, body)
		if status != want {
			t.Fatalf("setup %s %s as %s: %d %s", method, path, who, status, b)
		}
		return b
	}
	fresh := func() (conv, msg string) {
		var c struct {
			ID string `json:"id"`
		}
		json.Unmarshal(must("owner", "POST", "/v1/conversations", `{"members":["manager","member","silenced","blocked"],"name":"group"}`, 201), &c)
		must("owner", "PATCH", "/v1/conversations/"+c.ID+"/members/manager", `{"role":"manager"}`, 200)
		must("owner", "POST", "/v1/conversations/"+c.ID+"/silenced", `{"clientIds":["silenced"]}`, 200)
		must("owner", "POST", "/v1/conversations/"+c.ID+"/blocked", `{"clientIds":["blocked"]}`, 200)
		var m struct {
			ID string `json:"id"`
		}
		json.Unmarshal(must("owner", "POST", "/v1/conversations/"+c.ID+"/messages", `{"type":-1,"text":"owner's"}`, 201), &m)
		return c.ID, m.ID
	}
	var file struct {
		ID string `json:"id"`
	}
	status, b := call("owner", "POST", "/v1/files", "multipart")
	if status != http.StatusCreated || json.Unmarshal(b, &file) != nil {
		t.Fatalf("upload: %d %s", status, b)
	}
	got := map[string]map[string]string{}
	for _, op := range authzOps {
		got[op.name] = map[string]string{}
		for _, who := range authzPrincipals {
			conv, msg := fresh()
			r := strings.NewReplacer("{conv}", conv, "{msg}", msg, "{file}", file.ID)
			status, b := call(who, op.method, r.Replace(op.path), r.Replace(op.body))
			answer := fmt.Sprint(status)
			if status >= 400 {
				var p struct {
					Code string `json:"code"`
				}
				json.Unmarshal(b, &p)
				answer = fmt.Sprintf("%d %s", status, p.Code)
			}
			got[op.name][who] = answer
			if op.id == "deleteCurrentSession" { // the caller's session ended: a new one
				for c, name := range map[string]string{"non-member": "stranger"} {
					if c == who {
						who = name
					}
				}
				if _, ok := tokens[who]; ok {
					tokens[who] = h.login(who).Token
				}
			}
		}
	}
	// Every operation of the OpenAPI document has its rows.
	spec, err := os.ReadFile("../openapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, op := range authzOps {
		covered[op.id] = true
	}
	for _, m := range regexp.MustCompile(`"operationId":\s*"([A-Za-z]+)"`).FindAllStringSubmatch(string(spec), -1) {
		if !covered[m[1]] {
			t.Errorf("operation %s has no row in the matrix", m[1])
		}
	}
	table := authzTable(got)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), table) {
		t.Errorf("the README's table of who may do what is not what the server answers; the server's:\n%s", table)
	}
}

// authzTable renders the answers as the README's markdown table.
func authzTable(got map[string]map[string]string) string {
	var b strings.Builder
	b.WriteString("| operation | " + strings.Join(authzPrincipals, " | ") + " |\n|---|")
	b.WriteString(strings.Repeat("---|", len(authzPrincipals)) + "\n")
	for _, op := range authzOps {
		b.WriteString("| " + op.name)
		for _, who := range authzPrincipals {
			b.WriteString(" | " + got[op.name][who])
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

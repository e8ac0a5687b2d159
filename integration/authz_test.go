package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// The principals of the authorization matrix, as the README's table has
// them: who calls, relative to one group conversation.
var authzPrincipals = []string{"anonymous", "non-member", "member", "manager", "owner", "blocked", "silenced", "master key"}

// authzOp is one conversation operation of the matrix: its request, made
// afresh against a new group for every principal.
type authzOp struct {
	name, method, path, body string // path and body may hold {conv} and {msg}
}

// The conversation operations. Every one runs against a fresh group made
// by "owner" with "manager" (made manager), "member", "silenced" (a member,
// silenced) and "blocked" (blocked), and one message of the owner's.
var authzOps = []authzOp{
	{"get conversation", "GET", "/v1/conversations/{conv}", ""},
	{"rename", "PATCH", "/v1/conversations/{conv}", `{"name":"renamed"}`},
	{"mute", "POST", "/v1/conversations/{conv}/mute", ""},
	{"add a member", "POST", "/v1/conversations/{conv}/members", `{"clientIds":["newcomer"]}`},
	{"remove a member", "POST", "/v1/conversations/{conv}/members/remove", `{"clientIds":["member"]}`},
	{"remove the owner", "POST", "/v1/conversations/{conv}/members/remove", `{"clientIds":["owner"]}`},
	{"join", "POST", "/v1/conversations/{conv}/join", "{}"},
	{"quit", "POST", "/v1/conversations/{conv}/quit", ""},
	{"count members", "GET", "/v1/conversations/{conv}/members/count", ""},
	{"list members", "GET", "/v1/conversations/{conv}/members", ""},
	{"send", "POST", "/v1/conversations/{conv}/messages", `{"type":-1,"text":"hi"}`},
	{"read history", "GET", "/v1/conversations/{conv}/messages", ""},
	{"edit the owner's message", "PATCH", "/v1/conversations/{conv}/messages/{msg}", `{"type":-1,"text":"edited"}`},
	{"recall the owner's message", "DELETE", "/v1/conversations/{conv}/messages/{msg}", ""},
	{"mark read", "POST", "/v1/conversations/{conv}/read", "{}"},
	{"set a role", "PATCH", "/v1/conversations/{conv}/members/member", `{"role":"manager"}`},
	{"silence a member", "POST", "/v1/conversations/{conv}/silenced", `{"clientIds":["member"]}`},
	{"lift a silence", "POST", "/v1/conversations/{conv}/silenced/remove", `{"clientIds":["silenced"]}`},
	{"list silenced", "GET", "/v1/conversations/{conv}/silenced", ""},
	{"block a member", "POST", "/v1/conversations/{conv}/blocked", `{"clientIds":["member"]}`},
	{"unblock", "POST", "/v1/conversations/{conv}/blocked/remove", `{"clientIds":["blocked"]}`},
	{"list blocked", "GET", "/v1/conversations/{conv}/blocked", ""},
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
		req, err := http.NewRequestWithContext(ctx(t), method, h.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
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
	got := map[string]map[string]string{}
	for _, op := range authzOps {
		got[op.name] = map[string]string{}
		for _, who := range authzPrincipals {
			conv, msg := fresh()
			r := strings.NewReplacer("{conv}", conv, "{msg}", msg)
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

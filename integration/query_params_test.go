package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// Every operation of the served OpenAPI document answers a query parameter
// it does not declare with 400 INVALID_REQUEST, naming it, instead of
// answering as if it had not been given; the parameters it declares are
// not refused.
func TestUnknownQueryParameters(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")

	resp, err := http.Get(h.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`\{[^}]+\}`)
	ops := 0
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		for method, op := range doc.Paths[path] {
			ops++
			url := h.base + placeholder.ReplaceAllString(path, conv.Id) + "?limit=1&wher=%7B%7D&beforeTimestamp=1"
			req, err := http.NewRequest(strings.ToUpper(method), url, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			// Both credentials: every operation authenticates one of them.
			req.Header.Set("Authorization", "Bearer "+tom.Token)
			req.Header.Set("X-Master-Key", h.srv.MasterKey)
			req.Header.Set("Content-Type", jsonType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", op.OperationID, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p := problemOf(t, op.OperationID+" with unknown query parameters", resp, body, http.StatusBadRequest, client.INVALIDREQUEST)
			detail := deref(p.Detail)
			if !strings.Contains(detail, `"beforeTimestamp"`) || !strings.Contains(detail, `"wher"`) {
				t.Errorf("%s: the detail %q does not name both unknown parameters", op.OperationID, detail)
			}
			declaresLimit := false
			for _, prm := range op.Parameters {
				declaresLimit = declaresLimit || prm.In == "query" && prm.Name == "limit"
			}
			if strings.Contains(detail, `"limit"`) == declaresLimit {
				t.Errorf("%s (declares limit: %v): detail %q", op.OperationID, declaresLimit, detail)
			}
			want := 3 // beforeTimestamp, limit, wher
			if declaresLimit {
				want = 2
			}
			if p.Errors == nil || len(*p.Errors) != want || deref((*p.Errors)[0].Location) != "query.beforeTimestamp" {
				t.Errorf("%s: errors %s", op.OperationID, body)
			}
		}
	}
	if ops < 20 {
		t.Fatalf("only %d operations in the document", ops)
	}

	// What an operation declares is taken: history with all of its
	// parameters, a query with its own.
	tom.sendText(conv.Id, "hello")
	if page := tom.history(conv.Id, client.ListMessagesParams{Limit: ptr(int64(5)), Type: ptr("-1")}); len(*page.Messages) != 1 {
		t.Errorf("history: %+v", page)
	}
	r, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{
		Where: ptr(`{"m":"Tom"}`), Sort: ptr("-createdAt"), Limit: ptr(int64(5)), Skip: ptr(int64(0)),
		Compact: ptr(true), WithLastMessage: ptr(true),
	}, tom.auth())
	if err != nil || r.StatusCode() != http.StatusOK || r.JSON200 == nil || len(*r.JSON200.Results) != 1 {
		t.Errorf("query with every parameter: %v %s", err, r.Body)
	}
	// An empty query string, or a lone "?", is no parameter.
	for _, suffix := range []string{"?", ""} {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/v1/conversations/"+conv.Id+suffix, nil)
		req.Header.Set("Authorization", "Bearer "+tom.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET conversation%s: %d", suffix, resp.StatusCode)
		}
	}
}

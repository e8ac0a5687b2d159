package openapi

import (
	"encoding/json"
	"os"
	"testing"
)

// TestEveryOperationIsDocumented holds the document to the bar SDK users
// rely on: every operation has an id, a summary, a tag, documented error
// responses with examples, examples of what it takes and answers, and its
// security, if only `security: []` (needs none).
func TestEveryOperationIsDocumented(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type mediaType struct {
		Example  any            `json:"example"`
		Examples map[string]any `json:"examples"`
	}
	type response struct {
		Content map[string]mediaType `json:"content"`
	}
	type operation struct {
		OperationID string                 `json:"operationId"`
		Summary     string                 `json:"summary"`
		Tags        []string               `json:"tags"`
		Security    *[]map[string][]string `json:"security"`
		Responses   map[string]response    `json:"responses"`
		RequestBody *struct {
			Content map[string]mediaType `json:"content"`
		} `json:"requestBody"`
	}
	var doc struct {
		Paths map[string]map[string]operation `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// Binary bodies have no JSON example to give.
	noBodyExample := map[string]bool{"uploadFile": true, "downloadFile": true}
	hasExample := func(c map[string]mediaType) bool {
		for _, mt := range c {
			if mt.Example != nil || len(mt.Examples) > 0 {
				return true
			}
		}
		return false
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: operationId %q, summary %q, tags %v", where, op.OperationID, op.Summary, op.Tags)
			}
			if op.Security == nil {
				t.Errorf("%s (%s): no security; an operation that needs no credentials says security: []", where, op.OperationID)
			}
			errs, okWithBody := 0, false
			okExample := false
			for status, resp := range op.Responses {
				switch status[0] {
				case '4', '5':
					errs++
					if mt := resp.Content["application/problem+json"]; len(mt.Examples) == 0 {
						t.Errorf("%s: error %s has no examples", where, status)
					}
				case '2':
					if len(resp.Content) > 0 {
						okWithBody = true
						okExample = okExample || hasExample(resp.Content)
					}
				}
			}
			if errs == 0 {
				t.Errorf("%s: no documented errors", where)
			}
			if noBodyExample[op.OperationID] {
				continue
			}
			if okWithBody && !okExample {
				t.Errorf("%s (%s): no example of its answer", where, op.OperationID)
			}
			if op.RequestBody != nil && !hasExample(op.RequestBody.Content) {
				t.Errorf("%s (%s): no example of its request body", where, op.OperationID)
			}
		}
	}
}

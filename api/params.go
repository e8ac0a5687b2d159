package api

import (
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/parley-im/parley/handlers"
)

// refuseUnknownQuery answers 400 INVALID_REQUEST to a request carrying a
// query parameter its operation does not declare, rather than ignoring it
// as huma does: a misspelt or unsupported parameter (?beforeTimestamp=,
// ?wher=) would otherwise answer as if it had not been given, and the
// client would never know. The declared parameters are the operation's own,
// as the OpenAPI document lists them, so what is accepted is exactly what
// is documented. It runs for every operation, after authentication; a
// request without a query (nearly all of them, sends included) costs one
// test.
func (s *Server) refuseUnknownQuery(ctx huma.Context, next func(huma.Context)) {
	u := ctx.URL()
	if u.RawQuery == "" {
		next(ctx)
		return
	}
	op := ctx.Operation()
	var declared []string
	for _, p := range op.Parameters {
		if p != nil && p.In == "query" {
			declared = append(declared, p.Name)
		}
	}
	var unknown []string
	for name := range u.Query() {
		if !slices.Contains(declared, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		next(ctx)
		return
	}
	slices.Sort(unknown)
	takes := "takes no query parameters"
	if len(declared) > 0 {
		takes = "takes only " + strings.Join(declared, ", ")
	}
	what := "unknown query parameter "
	if len(unknown) > 1 {
		what = "unknown query parameters "
	}
	p := newProblem(statusOf[handlers.CodeInvalidRequest], handlers.CodeInvalidRequest,
		what+strings.Join(quoteAll(unknown), ", ")+": this operation "+takes)
	for _, name := range unknown {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "query." + name, Message: "unknown query parameter"})
	}
	s.deny(ctx, p)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

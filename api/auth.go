package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/parley-im/parley/handlers"
)

// Security scheme names of the OpenAPI document.
const (
	schemeBearer = "bearer"
	schemeMaster = "masterKey"
)

// The security requirements an operation declares; authenticate enforces
// exactly what the document says. noCredentials is an empty list, not nil:
// the document then says `security: []`, that the operation needs none,
// rather than leaving it unsaid.
var (
	noCredentials   = []map[string][]string{}
	sessionOnly     = []map[string][]string{{schemeBearer: {}}}
	sessionOrMaster = []map[string][]string{{schemeBearer: {}}, {schemeMaster: {}}}
	masterOnly      = []map[string][]string{{schemeMaster: {}}}
)

// queryTokenOK marks the operation that also takes ?token= (the event
// stream: browsers' EventSource cannot set headers).
const queryTokenOK = "queryToken"

type principalKey struct{}

func principal(ctx context.Context) handlers.Principal {
	p, _ := ctx.Value(principalKey{}).(handlers.Principal)
	return p
}

// authenticate resolves the caller of every operation that declares
// security, from a Bearer session token or the X-Master-Key header.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if len(op.Security) == 0 {
		next(ctx)
		return
	}
	var bearerOK, masterOK bool
	for _, req := range op.Security {
		_, b := req[schemeBearer]
		_, m := req[schemeMaster]
		bearerOK, masterOK = bearerOK || b, masterOK || m
	}
	svc := s.opt.Service
	var p handlers.Principal
	token, ok := bearerToken(ctx.Header("Authorization"))
	if q, _ := op.Metadata[queryTokenOK].(bool); !ok && q {
		token = ctx.Query("token")
	}
	// A master key authenticates where the operation takes it, and also
	// where it does not when it is the only credential: then the caller is
	// known (the application's backend) but not allowed (403, not 401).
	if key := ctx.Header("X-Master-Key"); key != "" && (masterOK || token == "") {
		if !svc.CheckMasterKey(key) {
			s.deny(ctx, &handlers.Error{Code: handlers.CodeUnauthorized, Detail: "wrong master key"})
			return
		}
		if !masterOK {
			s.deny(ctx, &handlers.Error{Code: handlers.CodeForbidden, Detail: "this operation acts as a client session, not with the master key: log in and use the session token"})
			return
		}
		p.Master = true
	} else {
		if token == "" || !bearerOK {
			detail := "a session token is required: Authorization: Bearer <token>"
			if !bearerOK {
				detail = "the master key is required: X-Master-Key"
			}
			s.deny(ctx, &handlers.Error{Code: handlers.CodeUnauthorized, Detail: detail})
			return
		}
		var err error
		if p, err = svc.Authenticate(ctx.Context(), token); err != nil {
			s.deny(ctx, err)
			return
		}
	}
	p.IP = handlers.PeerIP(ctx.RemoteAddr()) // for the hooks' sourceIP, as for logins
	recordPrincipal(ctx, p)
	next(huma.WithValue(ctx, principalKey{}, p))
}

// deny answers err as the operation would have (see fault), from a
// middleware that does not go on to the operation.
func (s *Server) deny(ctx huma.Context, err error) {
	p, ok := fault(ctx.Context(), s.opt.Log, err).(*Problem)
	if !ok {
		p = newProblem(http.StatusInternalServerError, codeInternal, "the server failed")
	}
	writeProblem(ctx, p)
}

// bearerToken is the token of an Authorization header of the Bearer
// scheme (its name in any case, RFC 9110), trimmed of spaces; ok is false
// for any other header.
func bearerToken(header string) (token string, ok bool) {
	const prefix = "bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(header[len(prefix):]), true
}

package lcapi

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// §1.2 rows 18–21 (and the same under /chatrooms): member roles, which
// LeanCloud keeps as _ConversationMemberInfo rows named by their objectId
// (the info-id) and Parley in member_infos by conversation and clientId.
// A member's info-id is the objectId of its imported LeanCloud row, when
// it has one, else one derived from the conversation and the clientId, so
// that every member has one and it never changes. Roles travel in
// LeanCloud's case (Owner, Manager, Member).

var errNoMemberInfo = &lcError{Status: http.StatusNotFound, Code: 101, Message: "Object not found."}

// infoID is a member's info-id.
func infoID(convID string, m handlers.MemberInfo) string {
	if m.InfoID != "" {
		return m.InfoID
	}
	sum := md5.Sum([]byte(convID + "\x00" + m.ClientID))
	return hex.EncodeToString(sum[:12]) // 24 hex digits, as an objectId
}

// Roles in LeanCloud's case and Parley's.
var (
	toLCRole   = map[string]string{handlers.RoleOwner: "Owner", handlers.RoleManager: "Manager", handlers.RoleMember: "Member"}
	fromLCRole = map[string]string{"owner": handlers.RoleOwner, "manager": handlers.RoleManager, "member": handlers.RoleMember}
)

func parseRole(s string) (string, *lcError) {
	if role, ok := fromLCRole[strings.ToLower(s)]; ok {
		return role, nil
	}
	return "", &lcError{Status: http.StatusBadRequest, Code: 4321, Message: "UNKNOWN_CONVERSATION_ROLE: role must be Member, Manager or Owner"}
}

type memberInfoBody struct {
	ClientID string  `json:"clientId"`
	Role     *string `json:"role"`
}

// memberInfo is a row of GET member-infos.
type memberInfo struct {
	ClientID string `json:"clientId"`
	ObjectID string `json:"objectId"`
	Role     string `json:"role"`
}

// roles reads the conversation's members with their roles.
func (a *API) roles(r *http.Request, convID string) ([]handlers.MemberInfo, error) {
	return a.opt.Service.ListMembers(r.Context(), principal(r), convID)
}

// setRole sets clientID's role and answers `{updatedAt, objectId}`.
func (a *API) setRole(w http.ResponseWriter, r *http.Request, convID, clientID, role string) {
	if _, err := a.opt.Service.SetRole(r.Context(), principal(r), convID, clientID, role); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated{leancloud.ISODate(a.opt.Now().UnixMilli()),
		infoID(convID, a.memberInfoOf(r, convID, clientID))})
}

// memberInfoOf is clientID's entry among the members (for its info-id); a
// member who is gone meanwhile gets the derived one.
func (a *API) memberInfoOf(r *http.Request, convID, clientID string) handlers.MemberInfo {
	if ms, err := a.roles(r, convID); err == nil {
		for _, m := range ms {
			if m.ClientID == clientID {
				return m
			}
		}
	}
	return handlers.MemberInfo{ClientID: clientID}
}

// POST …/{id}/member-infos (row 18): `{clientId, role}`.
func (a *API) addMemberInfo(w http.ResponseWriter, r *http.Request) {
	var body memberInfoBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.ClientID == "" || body.Role == nil {
		writeError(w, badRequest("clientId and role are required"))
		return
	}
	role, e := parseRole(*body.Role)
	if e != nil {
		writeError(w, e)
		return
	}
	a.setRole(w, r, chi.URLParam(r, "id"), body.ClientID, role)
}

// byInfoID finds the member an info-id names; it answers the errors.
func (a *API) byInfoID(w http.ResponseWriter, r *http.Request) (handlers.MemberInfo, bool) {
	convID, want := chi.URLParam(r, "id"), chi.URLParam(r, "info")
	ms, err := a.roles(r, convID)
	if err != nil {
		a.fail(w, r, err)
		return handlers.MemberInfo{}, false
	}
	for _, m := range ms {
		if infoID(convID, m) == want {
			return m, true
		}
	}
	writeError(w, errNoMemberInfo)
	return handlers.MemberInfo{}, false
}

// PUT …/{id}/member-infos/{info} (row 20): `{clientId, role}`, role
// optional; clientId, if given, must be the member the info-id names.
func (a *API) updateMemberInfo(w http.ResponseWriter, r *http.Request) {
	var body memberInfoBody
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	m, ok := a.byInfoID(w, r)
	if !ok {
		return
	}
	if body.ClientID != "" && body.ClientID != m.ClientID {
		writeError(w, badRequest("clientId: this member info is "+strconv.Quote(m.ClientID)+"'s"))
		return
	}
	role := m.Role
	if body.Role != nil {
		var e *lcError
		if role, e = parseRole(*body.Role); e != nil {
			writeError(w, e)
			return
		}
	}
	a.setRole(w, r, chi.URLParam(r, "id"), m.ClientID, role)
}

// DELETE …/{id}/member-infos/{info} (row 19): the member's role goes back
// to Member (the owner hands ownership over first).
func (a *API) deleteMemberInfo(w http.ResponseWriter, r *http.Request) {
	m, ok := a.byInfoID(w, r)
	if !ok {
		return
	}
	if _, err := a.opt.Service.SetRole(r.Context(), principal(r), chi.URLParam(r, "id"), m.ClientID, handlers.RoleMember); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty)
}

// GET …/{id}/member-infos?skip=&limit=&role= (row 21): every member (for a
// chat room, every seated client) with its role, owner first, then
// managers; limit default 100, at most 1000.
func (a *API) listMemberInfos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	skip, limit := 0, 100
	for _, n := range []struct {
		name     string
		into     *int
		min, max int
	}{{"skip", &skip, 0, 1 << 30}, {"limit", &limit, 1, 1000}} {
		if s := q.Get(n.name); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < n.min || v > n.max {
				writeError(w, badRequest(n.name+": an integer from "+strconv.Itoa(n.min)+" to "+strconv.Itoa(n.max)))
				return
			}
			*n.into = v
		}
	}
	var role string
	if s := q.Get("role"); s != "" {
		var e *lcError
		if role, e = parseRole(s); e != nil {
			writeError(w, e)
			return
		}
	}
	convID := chi.URLParam(r, "id")
	ms, err := a.roles(r, convID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := struct {
		Results []memberInfo `json:"results"`
	}{Results: []memberInfo{}}
	for _, m := range ms {
		if role != "" && m.Role != role {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(out.Results) == limit {
			break
		}
		out.Results = append(out.Results, memberInfo{m.ClientID, infoID(convID, m), toLCRole[m.Role]})
	}
	writeJSON(w, http.StatusOK, out)
}

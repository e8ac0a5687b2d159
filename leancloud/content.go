// Package leancloud owns everything LeanCloud-shaped in Parley: LeanCloud's
// names, codes and wire formats, translated onto Parley's rules (package
// handlers) so that every rule exists once.
//
// This file holds the content form: a message's content as LeanCloud
// carries it (the `_lctype` JSON of LeanCloud's rich-media message format, or any other string
// for an untyped message, Base64 for a binary one) converted to Parley's
// handlers.Content and back. Later files will hold the importer of
// LeanCloud's exports, the /1.2/rtm REST API and the lc.protobuf2.3
// realtime gateway, all built on this conversion.
package leancloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"

	"github.com/parley-im/parley/handlers"
)

// TypeRecalled is LeanCloud's `_lctype` of a recalled message (JSRT
// RecalledMessage, Java RECALLED_MESSAGE_TYPE). Parley has no such type: a
// recalled message is a Message with Recalled set and no content.
const TypeRecalled = -127

// The keys of LeanCloud's content JSON that have a Parley field of their
// own. Every other top-level key of typed content is one of Parley's fields.
const (
	keyType  = "_lctype"
	keyText  = "_lctext"
	keyAttrs = "_lcattrs"
	keyFile  = "_lcfile"
	keyLoc   = "_lcloc"
)

// Payload is a message's content as LeanCloud carries it: the content
// string and what travels beside it — in a history record (`data`, `bin`),
// a realtime DirectCommand (`msg` or `binaryMsg`, `mentionAll`,
// `mentionPids`) or a REST send (`message`, `mention_all`,
// `mention_client_ids`). LeanCloud's content JSON itself carries no
// mentions (§2.5).
type Payload struct {
	Data        string   // typed content is `_lctype` JSON; anything else is an untyped message's content
	Bin         bool     // Data is the Base64 of binary content
	MentionAll  bool     // everyone is mentioned
	MentionPids []string // the clientIds mentioned
}

// FromLeanCloud converts LeanCloud content to Parley's, and reports whether
// LeanCloud recorded the message as recalled (`_lctype` -127; Parley keeps
// no content of a recalled message, so the other keys of such content are
// dropped, and so are its mentions).
//
// Typed content — a JSON object whose `_lctype` is -1 … -6 or a positive
// integer up to 2³¹-1 — becomes a message of that type: `_lctext` its text,
// `_lcattrs` its attributes, `_lcfile` its file, `_lcloc` its location, and
// every other top-level key one of its fields. A file's url and objId map to
// url and objId; of `metaData`, a non-empty string name, a positive integer
// size and a non-empty string mimeType map to name, size and mimeType, and
// every other key (format, width, height, duration…) stays in metaData.
// (Numbers are read as JSON numbers usually are, as float64: a size beyond
// 2⁵³ bytes, or an attribute integer beyond it, comes back rounded, as it
// would from Parley's own storage.)
// Keys LeanCloud's REST documents put directly in `_lcfile` (name, size for
// -6) are read as metaData keys; they come back inside metaData, where the
// SDKs read them.
//
// Everything else is an untyped message whose data is the string as it
// is: content that is not a JSON object, has no `_lctype`, or a `_lctype`
// that is not one of the integers above; binary content (Bin, kept as its
// Base64); and typed content that Parley cannot hold without losing
// something, which ToLeanCloud checks (for example `_lctext` that is not a
// string, `_lcloc` with other keys, a text message with no text, a file url
// Parley refuses). A LeanCloud client served the data gets the very string
// it sent; a Parley client sees an untyped message.
//
// The result passes handlers.ValidateContent. Content that cannot pass in
// either form is an error wrapping the *handlers.Error that says why:
// MESSAGE_TOO_LARGE (content over handlers.MaxContentBytes once encoded,
// LeanCloud's own limit being 5 KB of the string), or INVALID_REQUEST for
// mentions that are not valid clientIds. An importer reports it with the
// record's location.
func FromLeanCloud(p Payload) (c handlers.Content, recalled bool, err error) {
	if !p.Bin {
		if obj, t, ok := typedObject(p.Data); ok {
			if t == TypeRecalled {
				return handlers.Content{}, true, nil
			}
			if c, ok := typedContent(obj, t, p); ok {
				_, err := handlers.ValidateContent(&c)
				if err == nil {
					return c, false, nil
				}
				var he *handlers.Error
				if errors.As(err, &he) && he.Code == handlers.CodeMessageTooLarge {
					return handlers.Content{}, false, fmt.Errorf("leancloud: content of type %d: %w", t, err)
				}
				// Parley refuses it typed (a text message without text, a
				// file url it does not take…): it goes as data.
			}
		}
	}
	data := p.Data
	c = handlers.Content{Data: &data, MentionAll: p.MentionAll, MentionList: p.MentionPids}
	if _, err := handlers.ValidateContent(&c); err != nil {
		return handlers.Content{}, false, fmt.Errorf("leancloud: content: %w", err)
	}
	return c, false, nil
}

// ToLeanCloud renders Parley content in LeanCloud's form: typed content as
// `_lctype` JSON (`_lctype` first, then `_lctext`, `_lcattrs`, `_lcfile`,
// `_lcloc` and the fields in key order), untyped content as its data, and
// with recalled the content of a recalled message, {"_lctype":-127}. A
// file's name, size and mimeType go into `_lcfile.metaData` beside its other
// metaData keys (a metaData key of the same name as one of those fields,
// when the field is set, is shadowed by it).
//
// Untyped content is its data alone, and typed content has no data: text,
// attributes, file, location or fields beside data (which Parley's rules
// let through) have no place in LeanCloud's form and are left out. Parley
// does not record whether untyped data was binary: Bin is never set. A field whose key is one of LeanCloud's own (`_lctype`, `_lctext`,
// `_lcattrs`, `_lcfile`, `_lcloc`) has no place in LeanCloud's form and is
// an error, as is content that cannot be encoded.
func ToLeanCloud(c *handlers.Content, recalled bool) (Payload, error) {
	if recalled {
		return Payload{Data: fmt.Sprintf(`{"%s":%d}`, keyType, TypeRecalled)}, nil
	}
	p := Payload{MentionAll: c.MentionAll, MentionPids: c.MentionList}
	if c.Type == nil {
		if c.Data != nil {
			p.Data = *c.Data
		}
		return p, nil
	}
	if t := *c.Type; t > math.MaxInt32 {
		return Payload{}, fmt.Errorf("leancloud: type %d: LeanCloud's SDKs read _lctype as a 32-bit integer", t)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"%s":%d`, keyType, *c.Type)
	member := func(key string, v any) error {
		enc, err := marshal(v)
		if err != nil {
			return fmt.Errorf("leancloud: %s: %w", key, err)
		}
		k, _ := marshal(key)
		b.WriteByte(',')
		b.Write(k)
		b.WriteByte(':')
		b.Write(enc)
		return nil
	}
	if c.Text != "" {
		if err := member(keyText, c.Text); err != nil {
			return Payload{}, err
		}
	}
	if len(c.Attributes) > 0 {
		if err := member(keyAttrs, c.Attributes); err != nil {
			return Payload{}, err
		}
	}
	if f := c.File; f != nil {
		if err := member(keyFile, lcFileOf(f)); err != nil {
			return Payload{}, err
		}
	}
	if l := c.Location; l != nil {
		if err := member(keyLoc, lcLoc{Latitude: l.Latitude, Longitude: l.Longitude}); err != nil {
			return Payload{}, err
		}
	}
	keys := make([]string, 0, len(c.Fields))
	for k := range c.Fields {
		if reserved(k) {
			return Payload{}, fmt.Errorf("leancloud: fields.%s: a key of LeanCloud's own content form, which a field cannot take", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := member(k, c.Fields[k]); err != nil {
			return Payload{}, err
		}
	}
	b.WriteByte('}')
	p.Data = b.String()
	return p, nil
}

// MessageToLeanCloud is ToLeanCloud of a stored message's content.
func MessageToLeanCloud(m *handlers.Message) (Payload, error) {
	return ToLeanCloud(&m.Content, m.Recalled)
}

// Equivalent reports whether two LeanCloud content strings mean the same:
// equal as decoded JSON once an empty `_lcattrs` or `_lcfile.metaData` is
// left out and keys directly in `_lcfile` (other than url, objId and
// metaData) are read as metaData keys, as readers of LeanCloud content do.
// Strings that are not JSON are equivalent only when equal.
func Equivalent(a, b string) bool {
	if a == b {
		return true
	}
	var vb any
	if json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return equivalentTo(a, vb)
}

// equivalentTo is Equivalent(a, b) for b already decoded.
func equivalentTo(a string, b any) bool {
	var va any
	if json.Unmarshal([]byte(a), &va) != nil {
		return false
	}
	return reflect.DeepEqual(canonical(va), canonical(b))
}

// lcFile is `_lcfile` as ToLeanCloud writes it.
type lcFile struct {
	URL      string         `json:"url"`
	ObjID    string         `json:"objId,omitempty"`
	MetaData map[string]any `json:"metaData,omitempty"`
}

type lcLoc struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

func lcFileOf(f *handlers.File) lcFile {
	out := lcFile{URL: f.URL, ObjID: f.ObjID}
	if len(f.MetaData) > 0 || f.Name != "" || f.Size > 0 || f.MimeType != "" {
		md := make(map[string]any, len(f.MetaData)+3)
		for k, v := range f.MetaData {
			md[k] = v
		}
		if f.Name != "" {
			md["name"] = f.Name
		}
		if f.Size > 0 {
			md["size"] = f.Size
		}
		if f.MimeType != "" {
			md["mimeType"] = f.MimeType
		}
		out.MetaData = md
	}
	return out
}

func reserved(key string) bool {
	switch key {
	case keyType, keyText, keyAttrs, keyFile, keyLoc:
		return true
	}
	return false
}

// typedObject decodes data as typed LeanCloud content: a JSON object whose
// `_lctype` is an integer type Parley has (-1 … -6, positive up to
// MaxInt32) or -127.
func typedObject(data string) (map[string]any, int, bool) {
	if len(data) == 0 || data[0] != '{' && !isJSONSpace(data[0]) {
		return nil, 0, false // cheap: not an object
	}
	var obj map[string]any
	if json.Unmarshal([]byte(data), &obj) != nil || obj == nil {
		return nil, 0, false
	}
	f, ok := obj[keyType].(float64)
	if !ok || f != math.Trunc(f) {
		return nil, 0, false
	}
	switch {
	case f == TypeRecalled, f >= handlers.TypeFile && f <= handlers.TypeText, f > 0 && f <= math.MaxInt32:
		return obj, int(f), true
	}
	return nil, 0, false
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// typedContent maps a typed object onto Parley's content, and reports
// whether the result says all the object says (ToLeanCloud gives it back).
func typedContent(obj map[string]any, t int, p Payload) (handlers.Content, bool) {
	c := handlers.Content{Type: &t, MentionAll: p.MentionAll, MentionList: p.MentionPids}
	for k, v := range obj {
		switch k {
		case keyType:
		case keyText:
			s, ok := v.(string)
			if !ok {
				return c, false
			}
			c.Text = s
		case keyAttrs:
			m, ok := v.(map[string]any)
			if !ok {
				return c, false
			}
			c.Attributes = m
		case keyFile:
			m, ok := v.(map[string]any)
			if !ok {
				return c, false
			}
			c.File = fileOf(m)
		case keyLoc:
			m, ok := v.(map[string]any)
			if !ok {
				return c, false
			}
			lat, ok1 := m["latitude"].(float64)
			lon, ok2 := m["longitude"].(float64)
			if !ok1 || !ok2 {
				return c, false
			}
			c.Location = &handlers.Location{Latitude: lat, Longitude: lon}
		default:
			if c.Fields == nil {
				c.Fields = make(map[string]any)
			}
			c.Fields[k] = v
		}
	}
	if len(obj) == 2 && c.Text != "" {
		// `_lctype` and a non-empty `_lctext` alone (most messages are
		// such text): ToLeanCloud gives back exactly these two keys.
		return c, true
	}
	back, err := ToLeanCloud(&c, false)
	if err != nil || back.Data != p.Data && !equivalentTo(back.Data, obj) {
		return c, false
	}
	return c, true
}

// fileOf maps `_lcfile` onto Parley's file; what does not map is caught by
// the round trip in typedContent.
func fileOf(m map[string]any) *handlers.File {
	f := &handlers.File{}
	f.URL, _ = m["url"].(string)
	f.ObjID, _ = m["objId"].(string)
	md := map[string]any{}
	for k, v := range m { // the REST form: name, size directly in _lcfile
		if k != "url" && k != "objId" && k != "metaData" {
			md[k] = v
		}
	}
	if inner, ok := m["metaData"].(map[string]any); ok {
		for k, v := range inner {
			md[k] = v
		}
	}
	if s, ok := md["name"].(string); ok && s != "" {
		f.Name = s
		delete(md, "name")
	}
	if n, ok := md["size"].(float64); ok && n > 0 && n == math.Trunc(n) && n < 1<<63 {
		f.Size = int64(n)
		delete(md, "size")
	}
	if s, ok := md["mimeType"].(string); ok && s != "" {
		f.MimeType = s
		delete(md, "mimeType")
	}
	if len(md) > 0 {
		f.MetaData = md
	}
	return f
}

// canonical is a decoded LeanCloud content in the form Equivalent compares.
func canonical(v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	if a, ok := out[keyAttrs].(map[string]any); ok && len(a) == 0 {
		delete(out, keyAttrs)
	}
	f, ok := out[keyFile].(map[string]any)
	if !ok {
		return out
	}
	nf := make(map[string]any, len(f))
	md := map[string]any{}
	raw, has := f["metaData"]
	inner, isObj := raw.(map[string]any)
	if has && !isObj {
		nf["metaData"] = raw // not LeanCloud's shape: compared as it is
	}
	for k, v := range inner {
		md[k] = v
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := f[k]
		switch {
		case k == "url" || k == "objId" || k == "metaData":
			if k != "metaData" {
				nf[k] = v
			}
		case has && !isObj:
			nf[k] = v
		default:
			if prev, dup := md[k]; dup && !reflect.DeepEqual(prev, v) {
				nf[k] = v // a reader would see two values: kept apart
				continue
			}
			md[k] = v
		}
	}
	if len(md) > 0 {
		nf["metaData"] = md
	}
	out[keyFile] = nf
	return out
}

// marshal encodes v as JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// HookContent is the content form of the hooks (handlers.HookContent): what
// the server gives handlers.Config.HookContent, so that the app's
// LeanEngine code sees and returns `content` as LeanCloud carried it.
type HookContent struct{}

// ToLeanCloud renders c as a hook's `content`.
func (HookContent) ToLeanCloud(c *handlers.Content, recalled bool) (string, error) {
	p, err := ToLeanCloud(c, recalled)
	return p.Data, err
}

// FromLeanCloud reads the `content` (and `bin`) a hook returned; the
// mentions of like, which the content form does not carry, are kept.
func (HookContent) FromLeanCloud(data string, bin bool, like *handlers.Content) (handlers.Content, error) {
	c, recalled, err := FromLeanCloud(Payload{Data: data, Bin: bin, MentionAll: like.MentionAll, MentionPids: like.MentionList})
	if err == nil && recalled {
		err = errors.New("leancloud: a hook cannot answer recalled content")
	}
	return c, err
}

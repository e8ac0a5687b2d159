package leancloud

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley/handlers"
)

func ptr[T any](v T) *T { return &v }

// body is the stored form of c, as ValidateContent writes it.
func body(t testing.TB, c *handlers.Content) string {
	t.Helper()
	b, err := handlers.ValidateContent(c)
	if err != nil {
		t.Fatalf("ValidateContent: %v", err)
	}
	return string(b)
}

// sameJSON reports whether a and b decode to the same value.
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// The examples of LeanCloud's REST guide, "富媒体消息格式" (rich-media message format), quoted;
// where the document elides a url ("…") a real one stands in, since Parley
// takes only http(s) file addresses.
var docExamples = []struct {
	name string
	lc   string // LeanCloud's content
	want string // Parley's stored content
	back string // LeanCloud's form of the result, when it is not lc as written
}{{
	name: "text",
	// {"_lctype":-1,"_lctext":"这是一个纯文本消息","_lcattrs":{"a":"_lcattrs 是用来存储用户自定义的一些键值对"}}
	lc:   `{"_lctype":-1,"_lctext":"这是一个纯文本消息","_lcattrs":{"a":"_lcattrs 是用来存储用户自定义的一些键值对"}}`,
	want: `{"type":-1,"text":"这是一个纯文本消息","attributes":{"a":"_lcattrs 是用来存储用户自定义的一些键值对"}}`,
}, {
	name: "image",
	// {"_lctype":-2,"_lctext":"图像的文字说明","_lcattrs":{"a":"…","b":true,"c":12},
	//  "_lcfile":{"url":"http://ac-p2bpmgci.clouddn.com/246b8acc-…","objId":"54699d87e4b0a56c64f470a4",
	//             "metaData":{"name":"IMG_20141223.jpeg","format":"png","height":768,"width":1024,"size":18}}}
	lc: `{"_lctype":-2,"_lctext":"图像的文字说明","_lcattrs":{"a":"…","b":true,"c":12},
	 "_lcfile":{"url":"http://ac-p2bpmgci.clouddn.com/246b8acc-…","objId":"54699d87e4b0a56c64f470a4",
	            "metaData":{"name":"IMG_20141223.jpeg","format":"png","height":768,"width":1024,"size":18}}}`,
	want: `{"type":-2,"text":"图像的文字说明","attributes":{"a":"…","b":true,"c":12},
	 "file":{"url":"http://ac-p2bpmgci.clouddn.com/246b8acc-…","objId":"54699d87e4b0a56c64f470a4",
	         "name":"IMG_20141223.jpeg","size":18,"metaData":{"format":"png","height":768,"width":1024}}}`,
}, {
	name: "audio",
	// {"_lctype":-3,"_lcfile":{"url":"…","objId":"…","metaData":{"name":"我的滑板鞋.wav","format":"wav","duration":26,"size":2738}}}
	lc:   `{"_lctype":-3,"_lcfile":{"url":"https://files.example.com/a.wav","objId":"5469a","metaData":{"name":"我的滑板鞋.wav","format":"wav","duration":26,"size":2738}}}`,
	want: `{"type":-3,"file":{"url":"https://files.example.com/a.wav","objId":"5469a","name":"我的滑板鞋.wav","size":2738,"metaData":{"format":"wav","duration":26}}}`,
}, {
	name: "video",
	// {"_lctype":-4,"_lcfile":{"url":"…","objId":"…","metaData":{"name":"录制的视频.mov","format":"avi","duration":168,"size":18689}}}
	lc:   `{"_lctype":-4,"_lcfile":{"url":"https://files.example.com/v.mov","objId":"5469b","metaData":{"name":"录制的视频.mov","format":"avi","duration":168,"size":18689}}}`,
	want: `{"type":-4,"file":{"url":"https://files.example.com/v.mov","objId":"5469b","name":"录制的视频.mov","size":18689,"metaData":{"format":"avi","duration":168}}}`,
}, {
	name: "file, REST form (name and size directly in _lcfile)",
	// {"_lctype":-6,"_lctext":"这是一个普通文件类型","_lcfile":{"url":"http://www.somefile.com/jianli.doc","name":"我的简历.doc","size":18689}}
	lc:   `{"_lctype":-6,"_lctext":"这是一个普通文件类型","_lcfile":{"url":"http://www.somefile.com/jianli.doc","name":"我的简历.doc","size":18689}}`,
	want: `{"type":-6,"text":"这是一个普通文件类型","file":{"url":"http://www.somefile.com/jianli.doc","name":"我的简历.doc","size":18689}}`,
	// Back in the form the SDKs (JSRT FileMessage) read.
	back: `{"_lctype":-6,"_lctext":"这是一个普通文件类型","_lcfile":{"url":"http://www.somefile.com/jianli.doc","metaData":{"name":"我的简历.doc","size":18689}}}`,
}, {
	name: "location",
	// {"_lctype":-5,"_lctext":"这是一个地理位置消息","_lcloc":{"longitude":23.2,"latitude":45.2}}
	lc:   `{"_lctype":-5,"_lctext":"这是一个地理位置消息","_lcloc":{"longitude":23.2,"latitude":45.2}}`,
	want: `{"type":-5,"text":"这是一个地理位置消息","location":{"latitude":45.2,"longitude":23.2}}`,
}, {
	name: "minimal image",
	// Minimal forms: {"_lctype":-2,"_lcfile":{"url":"…"}}
	lc:   `{"_lctype":-2,"_lcfile":{"url":"https://files.example.com/i.png"}}`,
	want: `{"type":-2,"file":{"url":"https://files.example.com/i.png"}}`,
}}

func TestDocumentedExamples(t *testing.T) {
	for _, tc := range docExamples {
		t.Run(tc.name, func(t *testing.T) {
			c, recalled, err := FromLeanCloud(Payload{Data: tc.lc})
			if err != nil || recalled {
				t.Fatalf("FromLeanCloud: %v, recalled %v", err, recalled)
			}
			if got := body(t, &c); !sameJSON(got, tc.want) {
				t.Errorf("Parley content\n got %s\nwant %s", got, tc.want)
			}
			p, err := ToLeanCloud(&c, false)
			if err != nil {
				t.Fatalf("ToLeanCloud: %v", err)
			}
			back := tc.back
			if back == "" {
				back = tc.lc
			}
			if !sameJSON(p.Data, back) {
				t.Errorf("back to LeanCloud\n got %s\nwant %s", p.Data, back)
			}
			if !Equivalent(p.Data, tc.lc) {
				t.Errorf("not equivalent to the original: %s", p.Data)
			}
			if !strings.HasPrefix(p.Data, `{"_lctype":`) {
				t.Errorf("_lctype is not first: %s", p.Data)
			}
			// And from Parley's side: the content converts back to itself.
			c2, _, err := FromLeanCloud(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := body(t, &c2); !sameJSON(got, tc.want) {
				t.Errorf("Parley → LeanCloud → Parley\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFromLeanCloud(t *testing.T) {
	long := strings.Repeat("x", handlers.MaxContentBytes)
	for _, tc := range []struct {
		name     string
		in       Payload
		want     string // Parley's stored content
		recalled bool
		err      handlers.Code
	}{
		{name: "plain string", in: Payload{Data: "今天天气不错！"}, want: `{"data":"今天天气不错！"}`},
		{name: "empty string", in: Payload{Data: ""}, want: `{"data":""}`},
		{name: "JSON not an object", in: Payload{Data: `[1,2]`}, want: `{"data":"[1,2]"}`},
		{name: "object without _lctype", in: Payload{Data: `{"a":1}`}, want: `{"data":"{\"a\":1}"}`},
		{name: "_lctype a string", in: Payload{Data: `{"_lctype":"-1","_lctext":"hi"}`}, want: `{"data":"{\"_lctype\":\"-1\",\"_lctext\":\"hi\"}"}`},
		{name: "_lctype 0, no type", in: Payload{Data: `{"_lctype":0}`}, want: `{"data":"{\"_lctype\":0}"}`},
		{name: "_lctype -7", in: Payload{Data: `{"_lctype":-7}`}, want: `{"data":"{\"_lctype\":-7}"}`},
		{name: "_lctype a fraction", in: Payload{Data: `{"_lctype":1.5}`}, want: `{"data":"{\"_lctype\":1.5}"}`},
		{name: "_lctype beyond 32 bits", in: Payload{Data: `{"_lctype":4294967296}`}, want: `{"data":"{\"_lctype\":4294967296}"}`},
		{name: "broken JSON", in: Payload{Data: `{"_lctype":-1,`}, want: `{"data":"{\"_lctype\":-1,"}`},
		{name: "binary kept as Base64", in: Payload{Data: `eyJfbGN0eXBlIjotMX0=`, Bin: true}, want: `{"data":"eyJfbGN0eXBlIjotMX0="}`},
		{name: "binary that reads as typed JSON stays data", in: Payload{Data: `{"_lctype":-1,"_lctext":"x"}`, Bin: true}, want: `{"data":"{\"_lctype\":-1,\"_lctext\":\"x\"}"}`},
		{name: "recalled", in: Payload{Data: `{"_lctype":-127}`}, recalled: true},
		{name: "recalled with leftovers", in: Payload{Data: `{"_lctype":-127,"_lctext":"gone"}`}, recalled: true},
		{name: "custom type: own keys are fields", in: Payload{Data: `{"_lctype":3,"_lctext":"t","title":"x","n":[1,{"k":null}]}`},
			want: `{"type":3,"text":"t","fields":{"title":"x","n":[1,{"k":null}]}}`},
		{name: "extra keys of a built-in type are fields too", in: Payload{Data: `{"_lctype":-1,"_lctext":"t","_lcextra":1}`},
			want: `{"type":-1,"text":"t","fields":{"_lcextra":1}}`},
		{name: "_lctype -1.0 is -1", in: Payload{Data: `{"_lctype":-1.0,"_lctext":"t"}`}, want: `{"type":-1,"text":"t"}`},
		{name: "mentions beside the content", in: Payload{Data: `{"_lctype":-1,"_lctext":"@Tom"}`, MentionPids: []string{"Tom"}, MentionAll: true},
			want: `{"type":-1,"text":"@Tom","mentionList":["Tom"],"mentionAll":true}`},
		{name: "mentions of untyped content", in: Payload{Data: "hi", MentionPids: []string{"Tom"}}, want: `{"data":"hi","mentionList":["Tom"]}`},
		{name: "empty _lcattrs means none", in: Payload{Data: `{"_lctype":-1,"_lctext":"t","_lcattrs":{}}`}, want: `{"type":-1,"text":"t"}`},
		{name: "metaData keys Parley has no field for stay", in: Payload{Data: `{"_lctype":-2,"_lcfile":{"url":"https://x.example/i","metaData":{"name":"","size":0,"sha":"ab","mimeType":"image/png"}}}`},
			want: `{"type":-2,"file":{"url":"https://x.example/i","mimeType":"image/png","metaData":{"name":"","size":0,"sha":"ab"}}}`},
		{name: "fractional size stays in metaData", in: Payload{Data: `{"_lctype":-6,"_lcfile":{"url":"https://x.example/f","metaData":{"size":1.5}}}`},
			want: `{"type":-6,"file":{"url":"https://x.example/f","metaData":{"size":1.5}}}`},
		// Typed content Parley cannot hold as it is: kept as data, verbatim.
		{name: "text without text", in: Payload{Data: `{"_lctype":-1}`}, want: `{"data":"{\"_lctype\":-1}"}`},
		{name: "empty _lctext", in: Payload{Data: `{"_lctype":-2,"_lctext":"","_lcfile":{"url":"https://x.example/i"}}`},
			want: `{"data":"{\"_lctype\":-2,\"_lctext\":\"\",\"_lcfile\":{\"url\":\"https://x.example/i\"}}"}`},
		{name: "_lctext not a string", in: Payload{Data: `{"_lctype":-1,"_lctext":5}`}, want: `{"data":"{\"_lctype\":-1,\"_lctext\":5}"}`},
		{name: "file url Parley refuses", in: Payload{Data: `{"_lctype":-2,"_lcfile":{"url":"…"}}`}, want: `{"data":"{\"_lctype\":-2,\"_lcfile\":{\"url\":\"…\"}}"}`},
		{name: "file without url", in: Payload{Data: `{"_lctype":-6,"_lcfile":{"objId":"a"}}`}, want: `{"data":"{\"_lctype\":-6,\"_lcfile\":{\"objId\":\"a\"}}"}`},
		{name: "name twice, differently", in: Payload{Data: `{"_lctype":-6,"_lcfile":{"url":"https://x.example/f","name":"a","metaData":{"name":"b"}}}`},
			want: `{"data":"{\"_lctype\":-6,\"_lcfile\":{\"url\":\"https://x.example/f\",\"name\":\"a\",\"metaData\":{\"name\":\"b\"}}}"}`},
		{name: "_lcloc with other keys", in: Payload{Data: `{"_lctype":-5,"_lcloc":{"latitude":1,"longitude":2,"__type":"GeoPoint"}}`},
			want: `{"data":"{\"_lctype\":-5,\"_lcloc\":{\"latitude\":1,\"longitude\":2,\"__type\":\"GeoPoint\"}}"}`},
		{name: "_lcloc out of range", in: Payload{Data: `{"_lctype":-5,"_lcloc":{"latitude":91,"longitude":2}}`},
			want: `{"data":"{\"_lctype\":-5,\"_lcloc\":{\"latitude\":91,\"longitude\":2}}"}`},
		{name: "_lcattrs not an object", in: Payload{Data: `{"_lctype":-1,"_lctext":"t","_lcattrs":[1]}`}, want: `{"data":"{\"_lctype\":-1,\"_lctext\":\"t\",\"_lcattrs\":[1]}"}`},
		// Outside Parley's rules in every form: errors.
		{name: "too large, typed", in: Payload{Data: `{"_lctype":-1,"_lctext":"` + long + `"}`}, err: handlers.CodeMessageTooLarge},
		{name: "too large, untyped", in: Payload{Data: long}, err: handlers.CodeMessageTooLarge},
		{name: "invalid mention", in: Payload{Data: "hi", MentionPids: []string{"a:b"}}, err: handlers.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, recalled, err := FromLeanCloud(tc.in)
			if tc.err != "" {
				var he *handlers.Error
				if !errors.As(err, &he) || he.Code != tc.err {
					t.Fatalf("error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if recalled != tc.recalled {
				t.Fatalf("recalled %v, want %v", recalled, tc.recalled)
			}
			if recalled {
				if !reflect.DeepEqual(c, handlers.Content{}) {
					t.Errorf("a recalled message has content: %+v", c)
				}
				return
			}
			if got := body(t, &c); !sameJSON(got, tc.want) {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			// Loss-free back to LeanCloud.
			p, err := ToLeanCloud(&c, false)
			if err != nil {
				t.Fatal(err)
			}
			if c.Type == nil && p.Data != tc.in.Data {
				t.Errorf("untyped data changed: %q, was %q", p.Data, tc.in.Data)
			}
			if !Equivalent(p.Data, tc.in.Data) {
				t.Errorf("back to LeanCloud: %s, not equivalent to %s", p.Data, tc.in.Data)
			}
			if p.MentionAll != tc.in.MentionAll || !reflect.DeepEqual(p.MentionPids, tc.in.MentionPids) {
				t.Errorf("mentions %v %v, want %v %v", p.MentionAll, p.MentionPids, tc.in.MentionAll, tc.in.MentionPids)
			}
		})
	}
}

func TestToLeanCloud(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       handlers.Content
		recalled bool
		want     string
		exact    bool // want is the exact string
		err      bool
	}{
		{name: "recalled", recalled: true, in: handlers.Content{Type: ptr(-1), Text: "x"}, want: `{"_lctype":-127}`, exact: true},
		{name: "untyped", in: handlers.Content{Data: ptr("raw <&> data")}, want: "raw <&> data", exact: true},
		{name: "text, key order", in: handlers.Content{Type: ptr(-1), Text: "<b>", Attributes: map[string]any{"k": 1}},
			want: `{"_lctype":-1,"_lctext":"<b>","_lcattrs":{"k":1}}`, exact: true},
		{name: "file: name, size, mimeType into metaData", in: handlers.Content{Type: ptr(-2), File: &handlers.File{
			URL: "/v1/files/abc", Name: "cat.png", MimeType: "image/png", Size: 20480, ObjID: "o1",
			MetaData: map[string]any{"width": 10, "height": 20}}},
			want: `{"_lctype":-2,"_lcfile":{"url":"/v1/files/abc","objId":"o1","metaData":{"height":20,"mimeType":"image/png","name":"cat.png","size":20480,"width":10}}}`, exact: true},
		{name: "location", in: handlers.Content{Type: ptr(-5), Location: &handlers.Location{Latitude: 31.2304, Longitude: 121.4737}},
			want: `{"_lctype":-5,"_lcloc":{"latitude":31.2304,"longitude":121.4737}}`, exact: true},
		{name: "custom type: fields at the top, in key order", in: handlers.Content{Type: ptr(7), Fields: map[string]any{"z": true, "a": "x"}},
			want: `{"_lctype":7,"a":"x","z":true}`, exact: true},
		{name: "field with a LeanCloud key", in: handlers.Content{Type: ptr(7), Fields: map[string]any{"_lctext": "x"}}, err: true},
		{name: "type beyond 32 bits", in: handlers.Content{Type: ptr(1 << 40)}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ToLeanCloud(&tc.in, tc.recalled)
			if tc.err {
				if err == nil {
					t.Fatalf("no error; got %s", p.Data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Bin {
				t.Error("Bin set")
			}
			if tc.exact && p.Data != tc.want || !tc.exact && !sameJSON(p.Data, tc.want) {
				t.Errorf("\n got %s\nwant %s", p.Data, tc.want)
			}
		})
	}
}

func TestMessageToLeanCloud(t *testing.T) {
	m := &handlers.Message{ID: "1", Content: handlers.Content{Type: ptr(-1), Text: "hi", MentionList: []string{"Jerry"}}}
	p, err := MessageToLeanCloud(m)
	if err != nil || p.Data != `{"_lctype":-1,"_lctext":"hi"}` || !reflect.DeepEqual(p.MentionPids, []string{"Jerry"}) {
		t.Fatalf("%+v %v", p, err)
	}
	m.Recalled, m.Content = true, handlers.Content{}
	if p, _ := MessageToLeanCloud(m); p.Data != `{"_lctype":-127}` {
		t.Fatalf("recalled: %s", p.Data)
	}
}

// parleyRoundTrip checks Parley → LeanCloud → Parley for valid Parley
// content c: the result is valid and says what c says, in the terms
// ToLeanCloud documents.
func parleyRoundTrip(t *testing.T, c handlers.Content) {
	t.Helper()
	want, err := handlers.ValidateContent(&c)
	if err != nil {
		return // not Parley content
	}
	p, err := ToLeanCloud(&c, false)
	if err != nil {
		return // documented refusals: reserved field keys, types beyond 32 bits
	}
	got, recalled, err := FromLeanCloud(p)
	if err != nil {
		t.Fatalf("FromLeanCloud(%q) of valid %s: %v", p.Data, want, err)
	}
	if recalled {
		if c.Type != nil {
			t.Fatalf("recalled from %s", want)
		}
		return // untyped data that reads {"_lctype":-127}
	}
	gotBody := body(t, &got)
	// What LeanCloud's form cannot carry: data beside a type, anything but
	// data beside none, and metaData keys shadowed by a file's fields.
	exp := c
	if exp.Type != nil {
		exp.Data = nil
	} else {
		exp = handlers.Content{Data: c.Data, MentionList: c.MentionList, MentionAll: c.MentionAll}
	}
	if f := exp.File; f != nil {
		nf := *f
		nf.MetaData = nil
		for k, v := range f.MetaData {
			if k == "name" && f.Name != "" || k == "size" && f.Size > 0 || k == "mimeType" && f.MimeType != "" {
				continue // shadowed by the field
			}
			if nf.MetaData == nil {
				nf.MetaData = map[string]any{}
			}
			nf.MetaData[k] = v
		}
		exp.File = &nf
	}
	expBody, _ := handlers.ValidateContent(&exp)
	p2, err := ToLeanCloud(&got, false)
	if err != nil {
		t.Fatalf("ToLeanCloud of %s: %v", gotBody, err)
	}
	if !Equivalent(p2.Data, p.Data) {
		t.Fatalf("LeanCloud form changed: %s → %s", p.Data, p2.Data)
	}
	if sameJSON(gotBody, string(expBody)) {
		return
	}
	// Allowed differences: untyped data that reads as typed LeanCloud
	// content becomes typed, and metaData name/size/mimeType of a file whose
	// field is empty become the field. Both keep the LeanCloud form (above).
	if c.Type == nil {
		return
	}
	if c.File != nil && c.File.Size > 1<<53 {
		return // read back as a float64, rounded
	}
	if f := c.File; f != nil && (f.MetaData["name"] != nil || f.MetaData["size"] != nil || f.MetaData["mimeType"] != nil) {
		return
	}
	t.Fatalf("Parley → LeanCloud → Parley\n got %s\nwant %s\n(LeanCloud %s)", gotBody, expBody, p.Data)
}

func TestParleyRoundTrip(t *testing.T) {
	for _, c := range []handlers.Content{
		{Type: ptr(-1), Text: "hi", Attributes: map[string]any{"a": []any{1.0, "x"}}, MentionAll: true},
		{Type: ptr(-2), Text: "cap", File: &handlers.File{URL: "https://x.example/i.png", Name: "i.png", MimeType: "image/png", Size: 3, ObjID: "o", MetaData: map[string]any{"width": 1.0}}},
		{Type: ptr(-3), File: &handlers.File{URL: "/v1/files/x1"}},
		{Type: ptr(-4), File: &handlers.File{URL: "https://x.example/v", MetaData: map[string]any{"duration": 3.5}}},
		{Type: ptr(-5), Location: &handlers.Location{Latitude: -90, Longitude: 180}},
		{Type: ptr(-6), File: &handlers.File{URL: "https://x.example/f", MetaData: map[string]any{"size": 0.0}}},
		{Type: ptr(42), Fields: map[string]any{"title": "t", "nested": map[string]any{"_lctype": -1.0}}},
		{Type: ptr(42)},
		{Data: ptr("plain")},
		{Data: ptr(`{"_lctype":-1,"_lctext":"reads typed"}`)},
	} {
		parleyRoundTrip(t, c)
	}
}

// FuzzContentRoundTrip: conversion never panics; LeanCloud → Parley →
// LeanCloud keeps the meaning of every content Parley accepts (untyped data
// byte for byte); Parley → LeanCloud → Parley keeps valid Parley content.
func FuzzContentRoundTrip(f *testing.F) {
	for _, tc := range docExamples {
		f.Add(tc.lc, false, tc.want)
	}
	for _, s := range []string{
		`{"_lctype":-127}`, `{"_lctype":3,"k":[1,2]}`, `{"_lctype":-6,"_lcfile":{"url":"https://a.b/c","name":"n","size":1,"metaData":{"size":1}}}`,
		`{"_lctype":-5,"_lcloc":{"latitude":1e-300,"longitude":-0}}`, `hello`, `{"_lctype":-1,"_lctext":"\ud800"}`,
	} {
		f.Add(s, false, `{"data":"x","mentionList":["a"]}`)
	}
	f.Add("AAE=", true, `{"type":-1,"text":"x","data":"y"}`)
	f.Fuzz(func(t *testing.T, data string, bin bool, parley string) {
		// LeanCloud → Parley → LeanCloud.
		in := Payload{Data: data, Bin: bin}
		c, recalled, err := FromLeanCloud(in)
		if err == nil {
			if !recalled {
				if _, verr := handlers.ValidateContent(&c); verr != nil {
					t.Fatalf("FromLeanCloud(%q) gave invalid content: %v", data, verr)
				}
			}
			p, err := ToLeanCloud(&c, recalled)
			if err != nil {
				t.Fatalf("ToLeanCloud of FromLeanCloud(%q): %v", data, err)
			}
			switch {
			case recalled:
				if p.Data != `{"_lctype":-127}` {
					t.Fatalf("recalled: %s", p.Data)
				}
			case c.Type == nil:
				if p.Data != data {
					t.Fatalf("untyped data changed: %q → %q", data, p.Data)
				}
			case bin:
				t.Fatalf("binary %q became typed", data)
			case !Equivalent(p.Data, data):
				t.Fatalf("LeanCloud → Parley → LeanCloud\n in %s\nout %s", data, p.Data)
			}
		} else {
			var he *handlers.Error
			if !errors.As(err, &he) {
				t.Fatalf("FromLeanCloud(%q): error without a code: %v", data, err)
			}
		}
		// Parley → LeanCloud → Parley.
		var pc handlers.Content
		if json.Unmarshal([]byte(parley), &pc) == nil {
			parleyRoundTrip(t, pc)
		}
	})
}

package handlers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func intp(v int) *int                { return &v }
func strp(s string) *string          { return &s }
func file(url string) *File          { return &File{URL: url} }
func loc(lat, lon float64) *Location { return &Location{Latitude: lat, Longitude: lon} }

// textOfEncodedSize returns a text message whose encoded content is exactly
// n bytes.
func textOfEncodedSize(t *testing.T, n int) *Content {
	t.Helper()
	overhead := len(`{"type":-1,"text":""}`)
	c := &Content{Type: intp(-1), Text: strings.Repeat("a", n-overhead)}
	if b, _ := json.Marshal(c); len(b) != n {
		t.Fatalf("built content of %d bytes, want %d", len(b), n)
	}
	return c
}

func TestValidateContent(t *testing.T) {
	const ok = Code("")
	tests := []struct {
		name string
		c    *Content
		want Code
	}{
		// Text.
		{"text", &Content{Type: intp(-1), Text: "Hello Jerry!"}, ok},
		{"text, whitespace", &Content{Type: intp(-1), Text: " "}, ok},
		{"text with attributes and mentions", &Content{Type: intp(-1), Text: "hi @Jerry", Attributes: map[string]any{"k": 1}, MentionList: []string{"Jerry"}}, ok},
		{"text missing", &Content{Type: intp(-1)}, CodeInvalidRequest},
		{"text missing, data given", &Content{Type: intp(-1), Data: strp("x")}, CodeInvalidRequest},
		{"text missing, file given", &Content{Type: intp(-1), File: file("https://example.com/a.png")}, CodeInvalidRequest},

		// Image, audio, video, file.
		{"image", &Content{Type: intp(-2), File: file("https://example.com/cat.png")}, ok},
		{"audio", &Content{Type: intp(-3), File: file("http://example.com/a.mp3")}, ok},
		{"video", &Content{Type: intp(-4), File: file("/v1/files/abc")}, ok},
		{"file", &Content{Type: intp(-6), File: &File{URL: "https://example.com/f.pdf", Name: "f.pdf", MimeType: "application/pdf", Size: 10}}, ok},
		{"image with caption", &Content{Type: intp(-2), Text: "look", File: file("https://example.com/cat.png")}, ok},
		{"image without file", &Content{Type: intp(-2)}, CodeInvalidRequest},
		{"audio without file", &Content{Type: intp(-3), Text: "no file"}, CodeInvalidRequest},
		{"video without file", &Content{Type: intp(-4)}, CodeInvalidRequest},
		{"file without file", &Content{Type: intp(-6)}, CodeInvalidRequest},
		{"image, file without url", &Content{Type: intp(-2), File: &File{Name: "cat.png"}}, CodeInvalidRequest},
		{"file, file without url", &Content{Type: intp(-6), File: &File{Name: "f.pdf", Size: 3}}, CodeInvalidRequest},
		{"file, negative size", &Content{Type: intp(-6), File: &File{URL: "https://example.com/f", Size: -1}}, CodeInvalidRequest},

		// file.url schemes.
		{"url https with query", &Content{Type: intp(-2), File: file("https://example.com/a.png?x=1#f")}, ok},
		{"url upper-case scheme", &Content{Type: intp(-2), File: file("HTTPS://EXAMPLE.COM/A.PNG")}, ok},
		{"url with port", &Content{Type: intp(-2), File: file("http://127.0.0.1:8080/v1/files/x")}, ok},
		{"url path on this server", &Content{Type: intp(-2), File: file("/v1/files/0t5bq1m6k3v8a2d4e6g0")}, ok},
		{"url javascript:", &Content{Type: intp(-2), File: file("javascript:alert(1)")}, CodeInvalidRequest},
		{"url JavaScript: mixed case", &Content{Type: intp(-2), File: file("JavaScript:alert(1)")}, CodeInvalidRequest},
		{"url javascript: with leading space", &Content{Type: intp(-2), File: file(" javascript:alert(1)")}, CodeInvalidRequest},
		{"url ftp:", &Content{Type: intp(-6), File: file("ftp://example.com/f")}, CodeInvalidRequest},
		{"url file:", &Content{Type: intp(-6), File: file("file:///etc/passwd")}, CodeInvalidRequest},
		{"url data:", &Content{Type: intp(-2), File: file("data:image/png;base64,AAAA")}, CodeInvalidRequest},
		{"url protocol-relative //host", &Content{Type: intp(-2), File: file("//evil.example/a.png")}, CodeInvalidRequest},
		{"url http without host", &Content{Type: intp(-2), File: file("http:///a.png")}, CodeInvalidRequest},
		{"url http: opaque", &Content{Type: intp(-2), File: file("http:example.com")}, CodeInvalidRequest},
		{"url not a url", &Content{Type: intp(-2), File: file("http://exa mple.com/")}, CodeInvalidRequest},
		{"url control character", &Content{Type: intp(-2), File: file("https://example.com/\x00")}, CodeInvalidRequest},
		{"url bare word", &Content{Type: intp(-2), File: file("cat.png")}, CodeInvalidRequest},
		{"url on a text message is checked too", &Content{Type: intp(-1), Text: "x", File: file("javascript:alert(1)")}, CodeInvalidRequest},

		// Location.
		{"location", &Content{Type: intp(-5), Location: loc(31.2304, 121.4737)}, ok},
		{"location at the origin", &Content{Type: intp(-5), Location: loc(0, 0)}, ok},
		{"location at the limits", &Content{Type: intp(-5), Location: loc(90, 180)}, ok},
		{"location at the negative limits", &Content{Type: intp(-5), Location: loc(-90, -180)}, ok},
		{"location missing", &Content{Type: intp(-5)}, CodeInvalidRequest},
		{"location missing, text given", &Content{Type: intp(-5), Text: "here"}, CodeInvalidRequest},
		{"latitude over 90", &Content{Type: intp(-5), Location: loc(90.000001, 0)}, CodeInvalidRequest},
		{"latitude under -90", &Content{Type: intp(-5), Location: loc(-91, 0)}, CodeInvalidRequest},
		{"longitude over 180", &Content{Type: intp(-5), Location: loc(0, 180.5)}, CodeInvalidRequest},
		{"longitude under -180", &Content{Type: intp(-5), Location: loc(0, -180.000001)}, CodeInvalidRequest},
		{"location on a text message is checked too", &Content{Type: intp(-1), Text: "x", Location: loc(100, 0)}, CodeInvalidRequest},

		// Application types.
		{"positive type with fields", &Content{Type: intp(1), Fields: map[string]any{"card": "x", "n": 2.0}}, ok},
		{"large positive type", &Content{Type: intp(1 << 30), Fields: map[string]any{"a": true}}, ok},
		{"positive type with text and fields", &Content{Type: intp(7), Text: "t", Fields: map[string]any{"a": []any{1.0}}}, ok},

		// Not types.
		{"type 0", &Content{Type: intp(0), Text: "x"}, CodeInvalidRequest},
		{"type -7", &Content{Type: intp(-7), Text: "x"}, CodeInvalidRequest},
		{"type -100", &Content{Type: intp(-100), Data: strp("x")}, CodeInvalidRequest},
		{"most negative type", &Content{Type: intp(-1 << 31), Text: "x"}, CodeInvalidRequest},

		// Untyped.
		{"data only", &Content{Data: strp(`{"custom":"payload"}`)}, ok},
		{"data only, empty string", &Content{Data: strp("")}, ok},
		{"neither type nor data", &Content{}, CodeInvalidRequest},
		{"neither type nor data, text given", &Content{Text: "hello"}, CodeInvalidRequest},

		// Mentions.
		{"mention of a control character id", &Content{Type: intp(-1), Text: "x", MentionList: []string{"ok", "bad\n"}}, CodeInvalidRequest},
		{"mention of an empty id", &Content{Type: intp(-1), Text: "x", MentionList: []string{""}}, CodeInvalidRequest},
		{"mention all", &Content{Type: intp(-1), Text: "x", MentionAll: true}, ok},

		// Size.
		{"encoded content of 5,120 bytes", textOfEncodedSize(t, MaxContentBytes), ok},
		{"encoded content of 5,121 bytes", textOfEncodedSize(t, MaxContentBytes+1), CodeMessageTooLarge},
		{"data of 6,000 bytes", &Content{Data: strp(strings.Repeat("d", 6000))}, CodeMessageTooLarge},
		{"fields over the limit", &Content{Type: intp(3), Fields: map[string]any{"blob": strings.Repeat("f", 5200)}}, CodeMessageTooLarge},
		{"1,699 Chinese characters (5,118 bytes encoded)", &Content{Type: intp(-1), Text: strings.Repeat("中", 1699)}, ok},
		{"1,700 Chinese characters (5,121 bytes encoded)", &Content{Type: intp(-1), Text: strings.Repeat("中", 1700)}, CodeMessageTooLarge},
		{"1,000 '<' characters are 1,000 bytes, not 6,000", &Content{Type: intp(-1), Text: strings.Repeat("<", 1000)}, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := ValidateContent(tt.c)
			if tt.want == ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if len(body) > MaxContentBytes {
					t.Errorf("accepted %d bytes", len(body))
				}
				// The stored form decodes to the same content.
				var back Content
				if err := json.Unmarshal(body, &back); err != nil {
					t.Fatalf("stored form %s does not decode: %v", body, err)
				}
				want, _ := json.Marshal(tt.c)
				got, _ := json.Marshal(&back)
				if string(got) != string(want) {
					t.Errorf("stored form decodes to %s, want %s", got, want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want a %s rule error", err, err, tt.want)
			}
			if e.Code != tt.want {
				t.Errorf("code %s (%s), want %s", e.Code, e.Detail, tt.want)
			}
			if body != nil {
				t.Errorf("rejected content still returned a body")
			}
		})
	}
}

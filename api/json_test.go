package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parley-im/parley/handlers"
)

// The strict decoder refuses a \u escape of a lone UTF-16 surrogate, which
// encoding/json would turn into U+FFFD: "a\ud800" and "a\udfff" would both
// be the clientId "a\ufffd". Pairs, and text that only looks like an
// escape, are decoded as before.
func TestUnmarshalJSONLoneSurrogates(t *testing.T) {
	for _, body := range []string{
		`{"clientId":"a\ud800"}`,       // a high surrogate at the end of a string
		`{"clientId":"a\uDBFFb"}`,      // followed by a letter
		`{"clientId":"\udc00"}`,        // a low surrogate alone
		`{"clientId":"\uDFFF"}`,        //
		`{"clientId":"\udc00\ud800"}`,  // a pair the wrong way round
		`{"clientId":"\ud800\ud800"}`,  // two high ones
		`{"clientId":"\ud800\u0041"}`,  // a high one and another escape
		`{"clientId":"\ud800\n"}`,      //
		`{"clientId":"\ud800\\udc00"}`, // an escaped backslash, then text
		`{"clientId":"\\\ud800"}`,      // an escaped backslash, then the escape
		`{"clientId":"\ud83d\ude00\ud800"}`,
		`{"members":["Jerry","x\udfff"]}`,
		`{"attributes":{"k\ud800":1}}`, // in a key
		`["\ud800"]`,
		`"\ud800"`,
	} {
		var v any
		err := unmarshalJSON([]byte(body), &v)
		if err == nil {
			t.Errorf("%s: decoded to %q", body, v)
		} else if !strings.Contains(err.Error(), "surrogate") {
			t.Errorf("%s: %v, want the error to say why", body, err)
		}
	}
	for body, want := range map[string]string{
		`{"clientId":"\ud83d\ude00"}`:     "😀", // a pair
		`{"clientId":"\uD83D\uDE00x"}`:    "😀x",
		`{"clientId":"\\ud800"}`:          `\ud800`, // an escaped backslash: text
		`{"clientId":"\\\\ud800"}`:        `\\ud800`,
		`{"clientId":"\u00e9\ud7ff"}`:     "é\ud7ff", // just below the surrogates
		`{"clientId":"\ue000\uffff"}`:     "\ue000\uffff",
		`{"clientId":"d\u0064\\u\u0044"}`: `dd\uD`,
		`{"clientId":"Tom"}`:              "Tom",
		`{"clientId":"\ufffd"}`:           "\ufffd", // the replacement character itself is a character
	} {
		var v struct {
			ClientID string `json:"clientId"`
		}
		if err := unmarshalJSON([]byte(body), &v); err != nil || v.ClientID != want {
			t.Errorf("%s: %q, %v; want %q", body, v.ClientID, err, want)
		}
	}
	// Malformed escapes are json.Unmarshal's to refuse, whatever the scan
	// makes of them; none of them panics it.
	for _, body := range []string{`"\ud8`, `"\ud80`, `"\ud800\`, `"\ud800\u`, `"\ud800\udc`, `"\`, `\`, `"\uzzzz"`, `"\ud800\uzzzz"`} {
		var v any
		if err := unmarshalJSON([]byte(body), &v); err == nil {
			t.Errorf("%s: decoded to %q", body, v)
		}
	}
}

// hasLoneSurrogate agrees with encoding/json: whatever it passes decodes
// without a U+FFFD that the text did not spell out.
func TestHasLoneSurrogateAgreesWithEncodingJSON(t *testing.T) {
	parts := []string{`\ud800`, `\udbff`, `\udc00`, `\udfff`, `\uD83D`, `\uDE00`, `\\`, `\n`, `a`, `\u0041`, `\ufffd`, `d`, `\u`}
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		body := `"` + prefix + `"`
		var s string
		if json.Unmarshal([]byte(body), &s) == nil {
			lone := hasLoneSurrogate([]byte(body))
			spelled := strings.Count(prefix, `\ufffd`)
			if got := strings.Count(s, "\ufffd"); lone != (got > spelled) {
				t.Errorf("%s: hasLoneSurrogate %v, but encoding/json made %d U+FFFD of %d spelled out", body, lone, got, spelled)
			}
		}
		if depth == 0 {
			return
		}
		for _, p := range parts {
			walk(prefix+p, depth-1)
		}
	}
	walk("", 4)
}

// sendBody is a typical send: the hot path's body.
const sendBody = `{"type":-1,"text":"Jerry, where are you? I have the cheese.","attributes":{"mood":"hungry"},"mentionList":["Jerry"],"clientMessageId":"c0ffee-1"}`

// BenchmarkUnmarshalSend is the send path's decoding of a typical body (no
// \u escape: the surrogate scan costs a search for "\u"), and of one with
// escapes (the scan runs).
func BenchmarkUnmarshalSend(b *testing.B) {
	for name, body := range map[string]string{
		"plain":   sendBody,
		"escaped": strings.Replace(sendBody, "cheese.", `cheese \ud83e\uddc0 \u00e9\n\"ok\"`, 1),
	} {
		b.Run(name, func(b *testing.B) {
			data := []byte(body)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var req handlers.SendRequest
				if err := unmarshalJSON(data, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHasLoneSurrogate is the scan alone, on a body of 5 KB (a large
// text) without and with surrogate escapes.
func BenchmarkHasLoneSurrogate(b *testing.B) {
	text := strings.Repeat("Jerry, where are you? ", 230)
	for name, body := range map[string]string{
		"send":      sendBody,
		"none":      `{"type":-1,"text":"` + text + `"}`,
		"emoji":     `{"type":-1,"text":"` + strings.Repeat(`\ud83d\ude00 `, 400) + `"}`,
		"backslash": `{"type":-1,"text":"` + strings.Repeat(`a\n\"b\" `, 700) + `"}`,
	} {
		b.Run(name, func(b *testing.B) {
			data := []byte(body)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if hasLoneSurrogate(data) {
					b.Fatal("lone")
				}
			}
		})
	}
}

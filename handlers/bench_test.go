package handlers

import "testing"

func BenchmarkValidateContent(b *testing.B) {
	typ := -1
	c := &Content{Type: &typ, Text: "Hello Jerry! Where is the cheese?", MentionList: []string{"Jerry"},
		Attributes: map[string]any{"lang": "en", "n": 3}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ValidateContent(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessageEventJSON(b *testing.B) {
	conv := []byte(`"6v1ofs2k0ha2e4ktl0s0"`)
	msg := []byte(`{"id":"1kb0p2qk000","conversationId":"6v1ofs2k0ha2e4ktl0s0","from":"Tom","type":-1,"text":"Hello Jerry!","timestamp":1795449660000}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		messageEventJSON(conv, msg, i%2 == 0, false)
	}
}

// BenchmarkMessageJSON: a text message written by hand and by encoding/json,
// in ASCII and in Chinese.
func BenchmarkMessageJSON(b *testing.B) {
	typ := -1
	for _, text := range []string{"hello from parley, how are you today?", "你好，今天过得怎么样？我们晚上一起吃饭吧"} {
		m := &Message{ID: "1kb0p2qk000", ConversationID: "6v1ofs2k0ha2e4ktl0s0", From: "Tom",
			Content: Content{Type: &typ, Text: text, MentionList: []string{"Jerry"}}, Timestamp: 1795449600000}
		name := "ascii"
		if text[0] >= 0x80 {
			name = "chinese"
		}
		b.Run(name+"/append", func(b *testing.B) {
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf, _ = m.AppendJSON(buf[:0])
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			for b.Loop() {
				marshalAsSent(m)
			}
		})
	}
}

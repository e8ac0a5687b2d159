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

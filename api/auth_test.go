package api

import "testing"

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc  ", "abc", true},
		{"Bearer  ", "", true}, // the scheme with no token: refused as one
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dG9tOg==", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		if token, ok := bearerToken(c.header); token != c.token || ok != c.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", c.header, token, ok, c.token, c.ok)
		}
	}
}

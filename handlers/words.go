package handlers

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
)

// Sensitive-word limits.
const (
	MaxSensitiveWords   = 10_000
	MaxSensitiveWordLen = 64 // characters
)

// sensitiveWordsKey is the settings row that keeps the list.
const sensitiveWordsKey = "sensitive_words"

// SensitiveWords is the body of PUT /v1/admin/sensitive-words and its answer.
type SensitiveWords struct {
	Words []string `json:"words" maxItems:"10000" doc:"The whole list; it replaces the previous one. Matched case-insensitively; [] clears it" example:"[\"darn\",\"heck\"]"`
}

// wordFilter replaces sensitive words. RE2 matches the alternation of the
// quoted words in time linear in the text, however long the list.
type wordFilter struct {
	words []string
	re    *regexp.Regexp // nil: no words
}

func newWordFilter(words []string) (*wordFilter, error) {
	f := &wordFilter{words: words}
	if len(words) == 0 {
		return f, nil
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = regexp.QuoteMeta(w)
	}
	// Longer words first, so that a word containing another is replaced whole.
	slices.SortStableFunc(quoted, func(a, b string) int { return len(b) - len(a) })
	re, err := regexp.Compile("(?i)" + strings.Join(quoted, "|"))
	if err != nil {
		return nil, err
	}
	f.re = re
	return f, nil
}

func (f *wordFilter) replace(text string) string {
	if f == nil || f.re == nil || text == "" {
		return text
	}
	return f.re.ReplaceAllLiteralString(text, "***")
}

// filtersWords reports whether messages of a conversation have their
// sensitive words replaced: group chats, chat rooms and system
// conversations (API.md), not one-to-one or temporary conversations.
func filtersWords(row *store.Conversation) bool {
	switch row.Kind {
	case KindChatRoom, KindSystem:
		return true
	case KindNormal:
		return !isOneToOne(row)
	}
	return false
}

// filterContent is c with its text's sensitive words replaced, and its
// stored form; changed is false when there was nothing to replace.
func (s *Service) filterContent(row *store.Conversation, c Content) (_ Content, body []byte, changed bool, err error) {
	if !filtersWords(row) {
		return c, nil, false, nil
	}
	text := s.words.Load().replace(c.Text)
	if text == c.Text {
		return c, nil, false, nil
	}
	c.Text = text
	body, err = ValidateContent(&c)
	return c, body, err == nil, err
}

// SetSensitiveWords replaces the list of sensitive words (master key).
func (s *Service) SetSensitiveWords(ctx context.Context, p Principal, req SensitiveWords) (*SensitiveWords, error) {
	if !p.Master {
		return nil, fail(CodeForbidden, "the master key is required")
	}
	if len(req.Words) > MaxSensitiveWords {
		return nil, fail(CodeInvalidRequest, "words: at most %d", MaxSensitiveWords)
	}
	var words []string
	for i, w := range req.Words {
		w = strings.TrimSpace(w)
		if w == "" || !utf8.ValidString(w) || utf8.RuneCountInString(w) > MaxSensitiveWordLen ||
			strings.ContainsFunc(w, func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.Trim(w, "*") == "" {
			return nil, fail(CodeInvalidRequest, "words[%d]: 1–%d characters, not only asterisks, no control characters", i, MaxSensitiveWordLen)
		}
		if !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	if words == nil {
		words = []string{}
	}
	f, err := newWordFilter(words)
	if err != nil {
		return nil, fail(CodeInvalidRequest, "words: %v", err)
	}
	raw, err := json.Marshal(words)
	if err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		return tx.PutSetting(sensitiveWordsKey, string(raw))
	}, func() { s.words.Store(f) })
	if err != nil {
		return nil, err
	}
	return &SensitiveWords{Words: words}, nil
}

// LoadSensitiveWords reads the stored list (at start).
func (s *Service) LoadSensitiveWords(ctx context.Context) error {
	raw, ok, err := s.db.Setting(ctx, sensitiveWordsKey)
	if err != nil || !ok {
		return err
	}
	var words []string
	if err := json.Unmarshal([]byte(raw), &words); err != nil {
		return err
	}
	f, err := newWordFilter(words)
	if err != nil {
		return err
	}
	s.words.Store(f)
	return nil
}

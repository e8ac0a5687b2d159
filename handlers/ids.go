package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"

	"github.com/parley-im/parley/store"
)

// randomID returns an opaque, URL-safe id of 20 characters (100 random bits).
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:20]
}

// Message ids are the stored integer id written as 11 digits of base32hex
// (0-9, a-v): fixed width, so they sort as text exactly as they sort as numbers.
const midAlphabet = "0123456789abcdefghijklmnopqrstuv"

func formatMessageID(mid int64) string {
	var b [11]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = midAlphabet[mid&31]
		mid >>= 5
	}
	return string(b[:])
}

func parseMessageID(s string) (int64, bool) {
	if len(s) != 11 {
		return 0, false
	}
	var mid int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int64
		switch {
		case c >= '0' && c <= '9':
			v = int64(c - '0')
		case c >= 'a' && c <= 'v':
			v = int64(c-'a') + 10
		default:
			return 0, false
		}
		mid = mid<<5 | v
	}
	return mid, mid > 0
}

// messageID is the id the API shows for a stored message: the LeanCloud id
// an imported message kept, else its mid.
func messageID(row *store.Message) string {
	if row.LCID != nil {
		return *row.LCID
	}
	return formatMessageID(row.MID)
}

// messageMID finds the mid of the message a client names in a
// conversation, by either kind of id messageID shows. Whether the client
// may see that message is the caller's to check.
//
// A LeanCloud id may have the shape of a mid too (11 characters of 0-9 a-v;
// ValidImportedID lets it through): such an id is first looked up among the
// imported messages, whose ids are in a partial index holding only them.
func (s *Service) messageMID(ctx context.Context, r store.Reader, convID, id string) (int64, bool, error) {
	mid, ok := parseMessageID(id)
	if !ok {
		return store.MessageByLCID(ctx, r, convID, id)
	}
	if !s.db.HasImportedIDs() {
		return mid, true, nil
	}
	imported, found, err := store.MessageByLCID(ctx, r, convID, id)
	if err != nil || found {
		return imported, found, err
	}
	return mid, true, nil
}

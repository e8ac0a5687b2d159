package handlers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/parley-im/parley/store"
)

// Test images: PNG, JPEG and GIF from the standard encoders; WebP (for
// which Go has no encoder) as the RIFF container with each kind of header.

func pngImage(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)))
	return b.Bytes()
}

func jpegImage(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil)
	return b.Bytes()
}

func gifImage(w, h int) []byte {
	var b bytes.Buffer
	gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White}), nil)
	return b.Bytes()
}

func riffWebP(fourcc string, data []byte) []byte {
	chunk := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	if len(data)%2 == 1 {
		chunk = append(chunk, 0)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	return append(append(out, "WEBP"...), chunk...)
}

// webpLossy is a VP8 key frame header (the frame data is not needed to
// read the size).
func webpLossy(w, h int) []byte {
	d := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8 & 0x3f), byte(h), byte(h >> 8 & 0x3f)}
	return riffWebP("VP8 ", append(d, make([]byte, 20)...))
}

func webpLossless(w, h int) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14
	d := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, bits)...)
	return riffWebP("VP8L", append(d, make([]byte, 20)...))
}

func webpExtended(w, h int) []byte {
	d := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	return riffWebP("VP8X", d)
}

func newFileService(t *testing.T, maxUpload int64) (*Service, string) {
	t.Helper()
	tmp := t.TempDir()
	db, err := store.Open(filepath.Join(tmp, "parley.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := filepath.Join(tmp, "files")
	s := New(Config{FilesDir: dir, MaxUpload: maxUpload}, db, nil, nil)
	if err := s.PrepareFiles(); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// filesIn lists the directory's entries.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func codeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestSaveFileImages(t *testing.T) {
	s, dir := newFileService(t, 0)
	tests := []struct {
		name, fileName string
		data           []byte
		mimeType       string
		w, h           int
	}{
		{"png", "cat.png", pngImage(640, 480), "image/png", 640, 480},
		{"jpeg", "cat.jpg", jpegImage(33, 17), "image/jpeg", 33, 17},
		{"gif", "cat.gif", gifImage(5, 300), "image/gif", 5, 300},
		{"webp lossy", "cat.webp", webpLossy(1024, 768), "image/webp", 1024, 768},
		{"webp lossless", "cat.webp", webpLossless(16383, 2), "image/webp", 16383, 2},
		{"webp extended", "cat.webp", webpExtended(20000, 300), "image/webp", 20000, 300},
		{"png named otherwise", "notes.txt", pngImage(3, 4), "image/png", 3, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, tt.fileName, bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if f.MimeType != tt.mimeType || f.Size != int64(len(tt.data)) || f.Name != tt.fileName {
				t.Errorf("got %+v", f)
			}
			if f.MetaData["width"] != tt.w || f.MetaData["height"] != tt.h {
				t.Errorf("metaData %v, want width %d height %d", f.MetaData, tt.w, tt.h)
			}
			if f.URL != "/v1/files/"+f.ID || !validFileID(f.ID) {
				t.Errorf("id %q url %q", f.ID, f.URL)
			}
			got, err := os.ReadFile(filepath.Join(dir, f.ID))
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Errorf("stored bytes differ (%v)", err)
			}
			// Served back as stored, inline.
			sf, err := s.OpenFile(context.Background(), f.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer sf.Content.Close()
			if sf.ServeType != tt.mimeType || sf.Attachment || sf.Name != tt.fileName {
				t.Errorf("serve as %q attachment %v name %q", sf.ServeType, sf.Attachment, sf.Name)
			}
			// JSON numbers come back as float64.
			if sf.MetaData["width"] != float64(tt.w) || sf.MetaData["height"] != float64(tt.h) {
				t.Errorf("stored metaData %v", sf.MetaData)
			}
		})
	}
}

func TestSaveFileNotImages(t *testing.T) {
	s, _ := newFileService(t, 0)
	tests := []struct {
		name, fileName string
		data           string
		mimeType       string
		attachment     bool
	}{
		{"text", "a.txt", "hello", "text/plain; charset=utf-8", false},
		{"empty", "empty", "", "text/plain; charset=utf-8", false},
		{"html", "x.png", "<!DOCTYPE html><script>alert(1)</script>", "text/html; charset=utf-8", true},
		{"svg", "x.svg", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "image/svg+xml", true},
		{"svg with prolog", "x.svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`, "image/svg+xml", true},
		{"xml", "x.xml", `<?xml version="1.0"?><a/>`, "text/xml; charset=utf-8", true},
		{"pdf", "x.pdf", "%PDF-1.7\n...", "application/pdf", false},
		{"binary", "x.bin", "\x00\x01\x02\x03", "application/octet-stream", true},
		{"binary named .html", "x.html", "\x00\x01\x02\x03", "application/octet-stream", true},
		{"mp3 without a tag, by extension", "voice.mp3", "\xff\xfb\x90\x00\x00\x00", "audio/mpeg", false},
		{"amr voice note", "voice", "#!AMR\n\x3c\x00\x00", "audio/amr", false},
		{"bad image", "x.png", "\x89PNG\r\n\x1a\nbroken", "image/png", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.SaveFile(context.Background(), Principal{Master: true}, tt.fileName, strings.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if f.MimeType != tt.mimeType || len(f.MetaData) != 0 || f.Size != int64(len(tt.data)) {
				t.Errorf("got %+v, want type %q and no metaData", f, tt.mimeType)
			}
			sf, err := s.OpenFile(context.Background(), f.ID)
			if err != nil {
				t.Fatal(err)
			}
			sf.Content.Close()
			if sf.Attachment != tt.attachment {
				t.Errorf("attachment %v, want %v", sf.Attachment, tt.attachment)
			}
		})
	}
}

func TestSaveFileLimit(t *testing.T) {
	const limit = 1000
	s, dir := newFileService(t, limit)
	if s.MaxUpload() != limit {
		t.Fatalf("MaxUpload %d", s.MaxUpload())
	}
	// Exactly the limit is fine.
	f, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", bytes.NewReader(make([]byte, limit)))
	if err != nil || f.Size != limit {
		t.Fatalf("at the limit: %v %+v", err, f)
	}
	// One byte more is not, and leaves nothing behind.
	for _, n := range []int{limit + 1, 10 * limit} {
		_, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", bytes.NewReader(make([]byte, n)))
		if codeOf(err) != CodeFileTooLarge {
			t.Errorf("%d bytes: %v, want FILE_TOO_LARGE", n, err)
		}
	}
	if got := filesIn(t, dir); len(got) != 1 || got[0] != f.ID {
		t.Errorf("files left: %v, want only %s", got, f.ID)
	}
	if d := s.TooLarge(); codeOf(d) != CodeFileTooLarge || !strings.Contains(d.Error(), "1000") {
		t.Errorf("TooLarge: %v", d)
	}
	if New(Config{}, nil, nil, nil).MaxUpload() != 20<<20 {
		t.Error("the default limit is not 20 MiB")
	}
}

func TestSaveFileBrokenUpload(t *testing.T) {
	s, dir := newFileService(t, 0)
	cut := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", cut); codeOf(err) != CodeInvalidRequest {
		t.Errorf("cut short: %v, want INVALID_REQUEST", err)
	}
	// An *Error from the reader (the HTTP layer's own limit) is answered as it is.
	limited := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(fail(CodeFileTooLarge, "too big")))
	if _, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", limited); codeOf(err) != CodeFileTooLarge {
		t.Errorf("reader's own error: %v, want FILE_TOO_LARGE", err)
	}
	if got := filesIn(t, dir); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

func TestSaveFileWithoutDirectory(t *testing.T) {
	s := New(Config{}, nil, nil, nil)
	if _, err := s.SaveFile(context.Background(), Principal{}, "a", strings.NewReader("x")); err == nil || codeOf(err) != "" {
		t.Errorf("no files directory: %v, want an internal error", err)
	}
	if _, err := s.OpenFile(context.Background(), newFileID()); codeOf(err) != CodeFileNotFound {
		t.Errorf("open without a directory: %v", err)
	}
}

func TestOpenFileNotFound(t *testing.T) {
	s, dir := newFileService(t, 0)
	for _, id := range []string{"", "nope", newFileID(), "../parley.db", strings.Repeat("v", 26), strings.ToUpper(newFileID())} {
		if _, err := s.OpenFile(context.Background(), id); codeOf(err) != CodeFileNotFound {
			t.Errorf("%q: %v, want FILE_NOT_FOUND", id, err)
		}
	}
	// A row whose bytes are gone is not found either.
	f, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, f.ID))
	if _, err := s.OpenFile(context.Background(), f.ID); codeOf(err) != CodeFileNotFound {
		t.Errorf("missing bytes: %v", err)
	}
}

func TestPrepareFilesRemovesPartialUploads(t *testing.T) {
	s, dir := newFileService(t, 0)
	f, err := s.SaveFile(context.Background(), Principal{ClientID: "Tom"}, "a", strings.NewReader("kept"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{uploadPrefix + "123", uploadPrefix + "456"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PrepareFiles(); err != nil {
		t.Fatal(err)
	}
	if got := filesIn(t, dir); len(got) != 1 || got[0] != f.ID {
		t.Errorf("after PrepareFiles: %v, want only %s", got, f.ID)
	}
}

func TestServeAs(t *testing.T) {
	tests := []struct {
		stored, serve string
		inline        bool
	}{
		{"image/png", "image/png", true},
		{"image/jpeg", "image/jpeg", true},
		{"image/gif", "image/gif", true},
		{"image/webp", "image/webp", true},
		{"IMAGE/PNG", "IMAGE/PNG", true},
		{"audio/mpeg", "audio/mpeg", true},
		{"audio/amr", "audio/amr", true},
		{"video/mp4", "video/mp4", true},
		{"application/ogg", "application/ogg", true},
		{"application/pdf", "application/pdf", true},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8", true},
		{"application/octet-stream", "application/octet-stream", false},
		{"text/html; charset=utf-8", "application/octet-stream", false},
		{"image/svg+xml", "application/octet-stream", false},
		{"text/xml; charset=utf-8", "application/octet-stream", false},
		{"application/xml", "application/octet-stream", false},
		{"application/javascript", "application/octet-stream", false},
		{"text/javascript", "application/octet-stream", false},
		{"text/css", "application/octet-stream", false},
		{"application/xhtml+xml", "application/octet-stream", false},
		{"application/x-shockwave-flash", "application/octet-stream", false},
		{"application/zip", "application/octet-stream", false},
		{"", "application/octet-stream", false},
		{"not a type", "application/octet-stream", false},
	}
	for _, tt := range tests {
		typ, inline := ServeAs(tt.stored)
		if typ != tt.serve || inline != tt.inline {
			t.Errorf("ServeAs(%q) = %q, %v; want %q, %v", tt.stored, typ, inline, tt.serve, tt.inline)
		}
	}
}

func TestSniffType(t *testing.T) {
	tests := []struct {
		name, data, fileName, want string
	}{
		{"png", string(pngImage(1, 1)), "x", "image/png"},
		{"html though named png", "<html><body>hi", "cat.png", "text/html; charset=utf-8"},
		{"svg", "<svg xmlns='http://www.w3.org/2000/svg'></svg>", "a", "image/svg+xml"},
		{"svg upper case, BOM and blank", "\xef\xbb\xbf \n<SVG></SVG>", "a", "image/svg+xml"},
		{"svg after doctype", `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" ""><svg/>`, "a", "image/svg+xml"},
		{"text mentioning svg", "use <svg> for vectors", "a.txt", "text/plain; charset=utf-8"},
		{"script", "alert(document.cookie)", "x.js", "text/plain; charset=utf-8"},
		{"binary named .js", "\x00\x00js", "x.js", "application/octet-stream"},
		{"binary named .mp4", "\x00\x00\x00\x00", "clip.MP4", "video/mp4"},
		{"quicktime", "\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "clip", "video/quicktime"},
		{"amr", "#!AMR\n", "voice.bin", "audio/amr"},
		{"amr-wb", "#!AMR-WB\n\x00", "voice", "audio/amr-wb"},
		{"m4a by extension", "\x00\x01", "voice.m4a", "audio/mp4"},
	}
	for _, tt := range tests {
		if got := sniffType([]byte(tt.data), tt.fileName); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSanitizeFileName(t *testing.T) {
	long := strings.Repeat("a", 300) + ".png"
	longCJK := strings.Repeat("猫", 100) + ".jpeg"
	tests := []struct{ in, want string }{
		{"cat.png", "cat.png"},
		{"猫 photo (1).jpg", "猫 photo (1).jpg"},
		{"/etc/passwd", "passwd"},
		{`C:\Users\tom\cat.png`, "cat.png"},
		{"../../x", "x"},
		{"..", "file"},
		{".", "file"},
		{"", "file"},
		{"   ", "file"},
		{"a\x00b\nc\r\x7f.txt", "abc.txt"},
		{"evil\u202egnp.exe", "evilgnp.exe"},
		{"zero\u200bwidth", "zerowidth"},
		{"bad\xffutf8", "badutf8"},
		{`quote".txt`, `quote".txt`},
		{long, strings.Repeat("a", 252) + ".png"},
		{longCJK, strings.Repeat("猫", 83) + ".jpeg"},
	}
	for _, tt := range tests {
		got := sanitizeFileName(tt.in)
		if got != tt.want {
			t.Errorf("sanitizeFileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > MaxFileNameLen {
			t.Errorf("sanitizeFileName(%q) is %d bytes", tt.in, len(got))
		}
	}
}

func TestFileIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newFileID()
		if !validFileID(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

// Retention.

func seedRetention(t *testing.T, s *Service, mids ...int64) {
	t.Helper()
	err := s.db.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.InsertConversation(&store.Conversation{ID: "c", Kind: "normal", Attributes: "{}", CreatedAt: 1, UpdatedAt: 1}, []string{"tom"}); err != nil {
			return err
		}
		for i, mid := range mids {
			if _, err := tx.Exec(`INSERT INTO messages (mid, conversation_id, seq, from_id, type, body, timestamp)
				VALUES (?, 'c', ?, 'tom', -1, '{}', ?)`, mid, i+1, mid>>12); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func countMessages(t *testing.T, s *Service) int {
	t.Helper()
	var n int
	if err := s.db.R().QueryRowxContext(context.Background(), "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPurgeMessagesBefore(t *testing.T) {
	s, _ := newFileService(t, 0)
	now := time.UnixMilli(1_800_000_000_000)
	cutoff := now.Add(-180 * 24 * time.Hour)
	var mids []int64
	for i := range 1200 { // more than one batch of old messages
		mids = append(mids, store.MIDBefore(cutoff.UnixMilli()-int64(1200-i)))
	}
	mids = append(mids, store.MIDBefore(cutoff.UnixMilli()), store.MIDBefore(now.UnixMilli()))
	seedRetention(t, s, mids...)
	n, err := s.PurgeMessagesBefore(context.Background(), cutoff)
	if err != nil || n != 1200 {
		t.Fatalf("purged %d, %v; want 1200", n, err)
	}
	if got := countMessages(t, s); got != 2 {
		t.Errorf("%d messages left, want 2", got)
	}
}

func TestRunRetention(t *testing.T) {
	s, _ := newFileService(t, 0)
	now := time.UnixMilli(1_800_000_000_000)
	s.now = func() time.Time { return now }
	age := 24 * time.Hour
	seedRetention(t, s, store.MIDBefore(now.Add(-age-time.Millisecond).UnixMilli()), store.MIDBefore(now.Add(-age+time.Minute).UnixMilli()))

	// Age 0 keeps everything and returns at once.
	done := make(chan struct{})
	go func() { s.RunRetention(context.Background(), 0, 0, time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunRetention with age 0 did not return")
	}
	if countMessages(t, s) != 2 {
		t.Fatal("age 0 purged messages")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { s.RunRetention(ctx, age, 0, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for countMessages(t, s) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first purge did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunRetention did not stop with its context")
	}
}

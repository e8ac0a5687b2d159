package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/store"
)

// Uploaded files (POST /v1/files, GET /v1/files/{id}) and message retention.

func testPNG(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)))
	return b.Bytes()
}

func testJPEG(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil)
	return b.Bytes()
}

func testGIF(w, h int) []byte {
	var b bytes.Buffer
	gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White}), nil)
	return b.Bytes()
}

// testWebP is a lossless WebP: the RIFF container with a VP8L header (Go
// has no WebP encoder; the size is all the server reads).
func testWebP(w, h int) []byte {
	data := append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, uint32(w-1)|uint32(h-1)<<14)...)
	data = append(data, make([]byte, 25)...)
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	return append(append(out, "WEBP"...), chunk...)
}

// fileForm is a multipart/form-data body with data in the field (named
// file unless told), under the file name and the type the client claims.
func fileForm(t *testing.T, field, name, claimed string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	// Another field before the file is skipped.
	if err := mw.WriteField("comment", "a field before the file"); err != nil {
		t.Fatal(err)
	}
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": field, "filename": name}))
	hdr.Set("Content-Type", claimed)
	pw, err := mw.CreatePart(hdr)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// upload posts a file as the given credentials and returns the response.
func (h *harness) upload(t *testing.T, name, claimed string, data []byte, auth ...client.RequestEditorFn) *client.UploadFileResponse {
	t.Helper()
	ct, body := fileForm(t, "file", name, claimed, data)
	r, err := h.c.UploadFileWithBodyWithResponse(ctx(t), ct, bytes.NewReader(body), auth...)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return r
}

// uploadOK uploads and expects 201.
func (h *harness) uploadOK(t *testing.T, name, claimed string, data []byte, auth ...client.RequestEditorFn) client.UploadedFile {
	t.Helper()
	r := h.upload(t, name, claimed, data, auth...)
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		t.Fatalf("upload %s: %d %s", name, r.StatusCode(), r.Body)
	}
	f := *r.JSON201
	if f.Url != "/v1/files/"+f.Id || r.HTTPResponse.Header.Get("Location") != f.Url {
		t.Errorf("upload %s: id %q url %q Location %q", name, f.Id, f.Url, r.HTTPResponse.Header.Get("Location"))
	}
	if f.Size != int64(len(data)) {
		t.Errorf("upload %s: size %d, want %d", name, f.Size, len(data))
	}
	return f
}

// download fetches a file and checks the headers every file is served with.
func (h *harness) download(t *testing.T, id string) (*http.Response, []byte) {
	t.Helper()
	r, err := h.c.DownloadFileWithResponse(ctx(t), id)
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	if r.StatusCode() != http.StatusOK {
		t.Fatalf("download %s: %d %s", id, r.StatusCode(), r.Body)
	}
	hd := r.HTTPResponse.Header
	if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("download %s: X-Content-Type-Options %q", id, got)
	}
	if got := hd.Get("Content-Security-Policy"); got != "sandbox" {
		t.Errorf("download %s: Content-Security-Policy %q", id, got)
	}
	return r.HTTPResponse, r.Body
}

// filesOnDisk lists the files directory beside the database.
func (h *harness) filesOnDisk(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(filepath.Dir(h.dbPath), "files"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadImages(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	tests := []struct {
		name     string
		data     []byte
		mimeType string
		w, h     int
	}{
		{"cat.png", testPNG(640, 480), "image/png", 640, 480},
		{"cat.jpg", testJPEG(120, 90), "image/jpeg", 120, 90},
		{"cat.gif", testGIF(7, 300), "image/gif", 7, 300},
		{"cat.webp", testWebP(1000, 2000), "image/webp", 1000, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The client's claimed type is ignored.
			f := h.uploadOK(t, tt.name, "application/octet-stream", tt.data, tom.auth())
			if f.MimeType != tt.mimeType || f.Name != tt.name {
				t.Errorf("got %+v, want type %s", f, tt.mimeType)
			}
			if f.MetaData["width"] != float64(tt.w) || f.MetaData["height"] != float64(tt.h) {
				t.Errorf("metaData %v, want width %d, height %d", f.MetaData, tt.w, tt.h)
			}
			resp, body := h.download(t, f.Id)
			if !bytes.Equal(body, tt.data) {
				t.Errorf("downloaded %d bytes, not the %d uploaded", len(body), len(tt.data))
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.mimeType {
				t.Errorf("Content-Type %q, want %q", ct, tt.mimeType)
			}
			if d, p, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || d != "inline" || p["filename"] != tt.name {
				t.Errorf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
			}
			if stored, err := os.ReadFile(filepath.Join(filepath.Dir(h.dbPath), "files", f.Id)); err != nil || !bytes.Equal(stored, tt.data) {
				t.Errorf("not stored under the data directory: %v", err)
			}
		})
	}
}

func TestUploadLimit(t *testing.T) {
	const limit = 4096
	h := start(t, func(c *server.Config) { c.MaxUpload = limit })
	tom := h.login("Tom")
	kept := h.uploadOK(t, "exact.bin", "application/octet-stream", bytes.Repeat([]byte{1}, limit), tom.auth())

	tooLarge := func(what string, r *client.UploadFileResponse) {
		t.Helper()
		p := problemOf(t, what, r.HTTPResponse, r.Body, http.StatusRequestEntityTooLarge, client.FILETOOLARGE)
		if !strings.Contains(deref(p.Detail), "4096") {
			t.Errorf("%s: detail %q does not say the limit", what, deref(p.Detail))
		}
	}
	// One byte over: the file is read, counted and thrown away.
	tooLarge("one byte over", h.upload(t, "big.bin", "application/octet-stream", make([]byte, limit+1), tom.auth()))
	// Far over, with a Content-Length that says so: refused before reading.
	tooLarge("declared far over", h.upload(t, "big.bin", "application/octet-stream", make([]byte, 1<<20), tom.auth()))
	// Far over, streamed without a length: cut off while reading.
	ct, body := fileForm(t, "file", "big.bin", "application/octet-stream", make([]byte, 256<<10))
	r, err := h.c.UploadFileWithBodyWithResponse(ctx(t), ct, io.MultiReader(bytes.NewReader(body)), tom.auth())
	if err != nil {
		t.Fatal(err)
	}
	tooLarge("streamed far over", r)
	// A huge field before a small file: the body as a whole is too large.
	var big bytes.Buffer
	mw := multipart.NewWriter(&big)
	mw.WriteField("padding", strings.Repeat("x", 256<<10))
	fw, _ := mw.CreateFormFile("file", "small.txt")
	fw.Write([]byte("small"))
	mw.Close()
	r, err = h.c.UploadFileWithBodyWithResponse(ctx(t), mw.FormDataContentType(), io.MultiReader(&big), tom.auth())
	if err != nil {
		t.Fatal(err)
	}
	tooLarge("streamed huge field", r)

	if got := h.filesOnDisk(t); len(got) != 1 || got[0] != kept.Id {
		t.Errorf("files on disk: %v, want only %s", got, kept.Id)
	}
}

func TestUploadNeedsCredentials(t *testing.T) {
	h := start(t)
	data := testPNG(2, 2)
	for _, tt := range []struct {
		what string
		auth []client.RequestEditorFn
		code client.ProblemCode
	}{
		{"no credentials", nil, client.UNAUTHORIZED},
		{"a bad token", []client.RequestEditorFn{withBearer("not-a-token")}, client.UNAUTHORIZED},
		{"a wrong master key", []client.RequestEditorFn{withMasterKey("wrong")}, client.UNAUTHORIZED},
	} {
		r := h.upload(t, "a.png", "image/png", data, tt.auth...)
		problemOf(t, tt.what, r.HTTPResponse, r.Body, http.StatusUnauthorized, tt.code)
	}
	if got := h.filesOnDisk(t); len(got) != 0 {
		t.Errorf("refused uploads left files: %v", got)
	}
	// The master key may upload (the app's backend).
	f := h.uploadOK(t, "a.png", "image/png", data, h.master())
	if f.MimeType != "image/png" {
		t.Errorf("master key upload: %+v", f)
	}
}

func TestUploadBadRequests(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	bad := func(what, contentType, body string) {
		t.Helper()
		r, err := h.c.UploadFileWithBodyWithResponse(ctx(t), contentType, strings.NewReader(body), tom.auth())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		problemOf(t, what, r.HTTPResponse, r.Body, http.StatusBadRequest, client.INVALIDREQUEST)
	}
	bad("JSON", "application/json", `{"file":"x"}`)
	bad("no content type", "", "x")
	bad("multipart without a boundary", "multipart/form-data", "x")
	bad("url-encoded form", "application/x-www-form-urlencoded", "file=x")

	ct, body := fileForm(t, "attachment", "a.txt", "text/plain", []byte("hello"))
	bad("no field file", ct, string(body))
	ct, body = fileForm(t, "file", "a.txt", "text/plain", []byte("hello"))
	bad("cut short", ct, string(body[:len(body)-20]))
	bad("empty form", ct, "--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--\r\n")
	if got := h.filesOnDisk(t); len(got) != 0 {
		t.Errorf("bad uploads left files: %v", got)
	}

	// An empty file is a file.
	f := h.uploadOK(t, "empty.txt", "text/plain", nil, tom.auth())
	if _, body := h.download(t, f.Id); len(body) != 0 {
		t.Errorf("empty file downloads as %q", body)
	}
}

// Whatever a client uploads, it never runs in a browser from this server's
// origin: active types are served as attachments of an inert type, and
// every answer says nosniff and sandbox.
func TestDownloadNeverActiveContent(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	tests := []struct {
		name, claimed, data string
		mimeType            string // as the upload reports it
		serveType           string
		attachment          bool
	}{
		{"page.html", "text/html", "<!DOCTYPE html><html><script>alert(document.domain)</script></html>", "text/html; charset=utf-8", "application/octet-stream", true},
		{"cat.png", "image/png", "<html><body onload=alert(1)>", "text/html; charset=utf-8", "application/octet-stream", true},
		{"logo.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`, "image/svg+xml", "application/octet-stream", true},
		{"logo2.svg", "image/png", `<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg"/>`, "image/svg+xml", "application/octet-stream", true},
		{"feed.xml", "application/xml", `<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>`, "text/xml; charset=utf-8", "application/octet-stream", true},
		{"app.js", "application/javascript", "alert(document.cookie)", "text/plain; charset=utf-8", "text/plain; charset=utf-8", false},
		{"notes.txt", "text/plain", "just text", "text/plain; charset=utf-8", "text/plain; charset=utf-8", false},
		{"data.bin", "image/png", "\x00\x01\x02binary", "application/octet-stream", "application/octet-stream", true},
		{"doc.pdf", "application/pdf", "%PDF-1.4\n%...", "application/pdf", "application/pdf", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := h.uploadOK(t, tt.name, tt.claimed, []byte(tt.data), tom.auth())
			if f.MimeType != tt.mimeType {
				t.Errorf("mimeType %q, want %q", f.MimeType, tt.mimeType)
			}
			if len(f.MetaData) != 0 {
				t.Errorf("metaData %v for a file that is not an image", f.MetaData)
			}
			resp, body := h.download(t, f.Id)
			if string(body) != tt.data {
				t.Errorf("downloaded %q", body)
			}
			ct := resp.Header.Get("Content-Type")
			if ct != tt.serveType {
				t.Errorf("Content-Type %q, want %q", ct, tt.serveType)
			}
			base, _, _ := mime.ParseMediaType(ct)
			if base == "text/html" || base == "image/svg+xml" || strings.Contains(base, "xml") || strings.Contains(base, "script") {
				t.Errorf("served as active content: %q", ct)
			}
			disposition, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
			if err != nil || params["filename"] != tt.name {
				t.Errorf("Content-Disposition %q: %v", resp.Header.Get("Content-Disposition"), err)
			}
			if want := map[bool]string{true: "attachment", false: "inline"}[tt.attachment]; disposition != want {
				t.Errorf("Content-Disposition %q, want %s", disposition, want)
			}
		})
	}
}

func TestDownload(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	data := testPNG(10, 10)
	f := h.uploadOK(t, "../../etc/猫\u202egnp.exe", "image/png", data, tom.auth())
	if f.Name != "猫gnp.exe" {
		t.Errorf("name %q not sanitised", f.Name)
	}
	resp, _ := h.download(t, f.Id)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err != nil || params["filename"] != f.Name {
		t.Errorf("Content-Disposition %q (%v): want the name %q", resp.Header.Get("Content-Disposition"), err, f.Name)
	}

	// Unknown ids are FILE_NOT_FOUND; nobody needs credentials to learn that.
	for _, id := range []string{"nope", strings.Repeat("0", 26), "..%2fparley.db"} {
		expectFileProblem(t, "download "+id, http.StatusNotFound, client.FILENOTFOUND)(h.c.DownloadFileWithResponse(ctx(t), id))
	}

	// Ranges and revalidation work as for any static file.
	req, _ := http.NewRequest(http.MethodGet, h.base+f.Url, nil)
	req.Header.Set("Range", "bytes=0-7")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusPartialContent || !bytes.Equal(part, data[:8]) || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("range: %d %q", r.StatusCode, part)
	}
	req, _ = http.NewRequest(http.MethodGet, h.base+f.Url, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if resp.Header.Get("ETag") == "" || r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q: %d", resp.Header.Get("ETag"), r.StatusCode)
	}

	// Files survive a restart.
	h2 := h.restart()
	if _, body := h2.download(t, f.Id); !bytes.Equal(body, data) {
		t.Error("the file changed across a restart")
	}
}

func expectFileProblem(t *testing.T, what string, status int, code client.ProblemCode) func(*client.DownloadFileResponse, error) {
	return func(r *client.DownloadFileResponse, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		problemOf(t, what, r.HTTPResponse, r.Body, status, code)
	}
}

// A message points at an uploaded file with the url the upload returned;
// the recipient downloads it from there.
func TestMessageWithUploadedFile(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	js := jerry.open()
	conv := tom.createConv("Jerry")
	js.expect("invited")
	js.expectJoined(conv.Id, "Tom", "Jerry")

	data := testJPEG(64, 48)
	f := h.uploadOK(t, "cheese.jpg", "image/jpeg", data, tom.auth())
	sent := tom.send(conv.Id, client.SendRequest{Type: ptr(int64(-2)), Text: ptr("look"), File: &client.File{
		Url: f.Url, Name: &f.Name, MimeType: &f.MimeType, Size: &f.Size, MetaData: &f.MetaData,
	}})
	if sent.File == nil || sent.File.Url != f.Url {
		t.Fatalf("sent %+v", sent)
	}

	m := js.expectMessage()
	got := m.Message.File
	if got == nil || got.Url != f.Url || deref(got.Name) != "cheese.jpg" || deref(got.MimeType) != "image/jpeg" ||
		deref(got.Size) != int64(len(data)) || deref(got.MetaData)["width"] != float64(64) || deref(got.MetaData)["height"] != float64(48) {
		t.Fatalf("Jerry got file %+v", got)
	}
	resp, err := http.Get(h.base + got.Url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("Jerry downloads %s: %d, %d bytes, %s", got.Url, resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}
	page := jerry.history(conv.Id, client.ListMessagesParams{})
	if ms := deref(page.Messages); len(ms) != 1 || ms[0].File == nil || ms[0].File.Url != f.Url {
		t.Errorf("history: %+v", ms)
	}
}

// Retention: the purge deletes the messages older than the cutoff and
// nothing newer.
func TestRetentionPurge(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	other := jerry.createConv("Tom")
	now := time.Now()
	const old = 5
	// Messages of 200 days ago, written as the store writes them; ids are
	// time-ordered, so these get ids of that time.
	err := h.srv.DB().Write(context.Background(), func(tx *store.Tx) error {
		for i := range old {
			convID := []string{conv.Id, other.Id}[i%2]
			sentAt := now.Add(-200*24*time.Hour + time.Duration(i)*time.Hour).UnixMilli()
			var seq int64
			if err := tx.Get(&seq, "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", convID); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO messages (mid, conversation_id, seq, from_id, type, body, timestamp)
				VALUES (?, ?, ?, 'Tom', -1, ?, ?)`, store.MIDBefore(sentAt)+int64(i), convID, seq,
				fmt.Sprintf(`{"type":-1,"text":"old %d"}`, i), sentAt); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tom.sendText(conv.Id, "new 1")
	jerry.sendText(other.Id, "new 2")
	tom.sendText(conv.Id, "new 3")
	if got := messageTexts(deref(tom.history(conv.Id, client.ListMessagesParams{Limit: ptr(int64(100))}).Messages)); len(got) != 5 {
		t.Fatalf("before the purge: %v", got)
	}

	n, err := h.srv.Service().PurgeMessagesBefore(ctx(t), now.Add(-180*24*time.Hour))
	if err != nil || n != old {
		t.Fatalf("purged %d, %v; want %d", n, err, old)
	}
	if got := messageTexts(deref(tom.history(conv.Id, client.ListMessagesParams{Limit: ptr(int64(100))}).Messages)); strings.Join(got, ",") != "new 1,new 3" {
		t.Errorf("history after the purge: %v", got)
	}
	if got := messageTexts(deref(jerry.history(other.Id, client.ListMessagesParams{Limit: ptr(int64(100))}).Messages)); strings.Join(got, ",") != "new 2" {
		t.Errorf("other history after the purge: %v", got)
	}
	// Sending goes on as before.
	tom.sendText(conv.Id, "new 4")
	if n, err := h.srv.Service().PurgeMessagesBefore(ctx(t), now.Add(-180*24*time.Hour)); n != 0 || err != nil {
		t.Errorf("second purge: %d, %v", n, err)
	}
}

func messageTexts(ms []client.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, deref(m.Text))
	}
	return out
}

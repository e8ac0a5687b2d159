package handlers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http" // only for DetectContentType, the WHATWG sniffing algorithm
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/webp"

	"github.com/parley-im/parley/store"
)

// Error codes of uploaded files.
const (
	CodeFileTooLarge Code = "FILE_TOO_LARGE"
	CodeFileNotFound Code = "FILE_NOT_FOUND"
)

// Limits of uploaded files.
const (
	DefaultMaxUpload = 20 << 20 // bytes
	MaxFileNameLen   = 256      // bytes, as File.Name of a message allows
	// FilesURLPrefix is where uploaded files are served; a message's file.url
	// may be such a path on this server.
	FilesURLPrefix = "/v1/files/"
	// uploadPrefix names the partial files of uploads in progress, in the
	// files directory itself so that finishing one is a rename.
	uploadPrefix = ".upload-"
)

var errFileNotFound = fail(CodeFileNotFound, "no such file")

// UploadedFile is an uploaded file as POST /v1/files answers it.
type UploadedFile struct {
	ID       string         `json:"id" doc:"File id (unguessable: whoever knows it can download the file)" example:"0t5bq1m6k3v8a2d4e6g0h8j1k4"`
	URL      string         `json:"url" doc:"Where the file is served: a path on this server, usable as file.url of a message" example:"/v1/files/0t5bq1m6k3v8a2d4e6g0h8j1k4"`
	Name     string         `json:"name" doc:"The uploaded file's name, sanitised" example:"cat.png"`
	MimeType string         `json:"mimeType" doc:"Media type determined from the content (the client's claim is ignored)" example:"image/png"`
	Size     int64          `json:"size" doc:"Size in bytes" example:"20480"`
	MetaData map[string]any `json:"metaData" doc:"width and height (pixels) of PNG, JPEG, GIF and WebP images; empty otherwise"`
}

// MaxUpload is the size limit of one uploaded file in bytes.
func (s *Service) MaxUpload() int64 {
	if s.cfg.MaxUpload > 0 {
		return s.cfg.MaxUpload
	}
	return DefaultMaxUpload
}

// PrepareFiles creates the files directory and removes what uploads cut
// short by a crash left behind. Run it before serving.
func (s *Service) PrepareFiles() error {
	dir := s.cfg.FilesDir
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, uploadPrefix+"*"))
	if err != nil {
		return err
	}
	for _, f := range stale {
		os.Remove(f)
	}
	return nil
}

// SaveFile stores an upload read from src as caller p and answers its
// description. The bytes stream to a partial file in the files directory
// (never all in memory), which becomes the file by a rename once complete
// and within the limit; nothing stays on disk otherwise. A read error that
// is an *Error is answered as it is (the HTTP layer reports its own limit
// that way); any other read error means the upload was cut short. A file
// write that fails for want of disk space marks the disk full, as a failed
// database write does.
func (s *Service) SaveFile(ctx context.Context, p Principal, name string, src io.Reader) (_ *UploadedFile, err error) {
	defer func() {
		if store.IsDiskFull(err) {
			s.db.NoteWrite(err)
		}
	}()
	dir := s.cfg.FilesDir
	if dir == "" {
		return nil, errors.New("files: no files directory configured")
	}
	tmp, err := os.CreateTemp(dir, uploadPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	tmpName, placed := tmp.Name(), ""
	defer func() {
		tmp.Close()
		os.Remove(tmpName)
		if placed != "" {
			os.Remove(placed)
		}
	}()

	limit := s.MaxUpload()
	in := &readTracker{r: io.LimitReader(src, limit+1)}
	size, err := io.Copy(tmp, in)
	if in.err != nil {
		var e *Error
		if errors.As(in.err, &e) {
			return nil, e
		}
		return nil, fail(CodeInvalidRequest, "the upload was cut short: %v", in.err)
	}
	if err != nil {
		return nil, fmt.Errorf("files: write: %w", err)
	}
	if size > limit {
		return nil, tooLarge(limit)
	}

	head := make([]byte, 512)
	n, err := tmp.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("files: read back: %w", err)
	}
	mimeType := sniffType(head[:n], name)
	meta := map[string]any{}
	if w, h, ok := imageSize(tmp, mimeType); ok {
		meta["width"], meta["height"] = w, h
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("files: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("files: close: %w", err)
	}

	row := store.File{
		ID: newFileID(), Name: sanitizeFileName(name), MimeType: mimeType, Size: size,
		MetaData: string(metaJSON), Owner: p.ClientID, CreatedAt: s.nowMs(),
	}
	final := filepath.Join(dir, row.ID)
	if err := os.Rename(tmpName, final); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	placed = final
	syncDir(dir) // make the rename durable before the row that points at it
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.InsertFile(&row) }, nil); err != nil {
		return nil, err
	}
	placed = "" // committed: keep it
	return uploadedFile(&row, meta), nil
}

func tooLarge(limit int64) *Error {
	return fail(CodeFileTooLarge, "the file is larger than the upload limit of %d bytes", limit)
}

// TooLarge is the error of an upload over the limit, for the HTTP layer
// when it sees so from the request before the file.
func (s *Service) TooLarge() error { return tooLarge(s.MaxUpload()) }

// StoredFile is an uploaded file opened for serving: the caller closes
// Content.
type StoredFile struct {
	UploadedFile
	Content    *os.File
	ModTime    time.Time
	ServeType  string // the Content-Type to serve it with
	Attachment bool   // serve with Content-Disposition: attachment
}

// OpenFile opens an uploaded file for download. Anyone who knows the id may
// (so that <img src> works); ids are unguessable.
func (s *Service) OpenFile(ctx context.Context, id string) (*StoredFile, error) {
	if s.cfg.FilesDir == "" || !validFileID(id) {
		return nil, errFileNotFound
	}
	row, err := store.GetFile(ctx, s.db.R(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errFileNotFound
	}
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.cfg.FilesDir, id))
	if errors.Is(err, os.ErrNotExist) {
		s.log.Warn("file row without its bytes", "id", id)
		return nil, errFileNotFound
	}
	if err != nil {
		return nil, err
	}
	meta := map[string]any{}
	if err := json.Unmarshal([]byte(row.MetaData), &meta); err != nil {
		f.Close()
		return nil, fmt.Errorf("files: %s: metaData: %w", id, err)
	}
	typ, inline := ServeAs(row.MimeType)
	return &StoredFile{
		UploadedFile: *uploadedFile(row, meta), Content: f,
		ModTime: time.UnixMilli(row.CreatedAt), ServeType: typ, Attachment: !inline,
	}, nil
}

func uploadedFile(row *store.File, meta map[string]any) *UploadedFile {
	return &UploadedFile{
		ID: row.ID, URL: FilesURLPrefix + row.ID, Name: row.Name,
		MimeType: row.MimeType, Size: row.Size, MetaData: meta,
	}
}

// readTracker remembers the error of its reader, so that a failed copy
// tells a broken upload from a failing disk.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// newFileID returns 128 random bits as 26 characters of lower-case base32hex.
func newFileID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func validFileID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'v') {
			return false
		}
	}
	return true
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// sniffType determines a file's media type from its first bytes (the
// WHATWG algorithm of http.DetectContentType), never from what the client
// claims. Two refinements: SVG, which the algorithm calls XML or text, is
// named as such (so it is served as the active content it is not allowed
// to be); and audio and video formats the algorithm does not know (AMR voice
// notes, AAC, QuickTime) are recognised by their magic or, failing that, by
// the file name's extension — only ever as an inert audio or video type.
func sniffType(head []byte, name string) string {
	if bytes.HasPrefix(head, []byte("#!AMR-WB\n")) {
		return "audio/amr-wb"
	}
	if bytes.HasPrefix(head, []byte("#!AMR\n")) { // voice notes
		return "audio/amr"
	}
	t := http.DetectContentType(head)
	base, _, _ := mime.ParseMediaType(t)
	switch base {
	case "text/xml", "text/plain", "text/html", "application/xml":
		if looksLikeSVG(head) {
			return "image/svg+xml"
		}
	case "application/octet-stream":
		if len(head) >= 12 && string(head[4:12]) == "ftypqt  " {
			return "video/quicktime"
		}
		if mt, ok := mediaByExtension[strings.ToLower(path.Ext(name))]; ok {
			return mt
		}
	}
	return t
}

// mediaByExtension names the audio and video types sniffing cannot tell,
// by extension. Only inert types belong here.
var mediaByExtension = map[string]string{
	".aac":  "audio/aac",
	".amr":  "audio/amr",
	".flac": "audio/flac",
	".m4a":  "audio/mp4",
	".mp3":  "audio/mpeg",
	".oga":  "audio/ogg",
	".opus": "audio/ogg",
	".wav":  "audio/wav",
	".3gp":  "video/3gpp",
	".mov":  "video/quicktime",
	".mp4":  "video/mp4",
	".webm": "video/webm",
}

func looksLikeSVG(head []byte) bool {
	lower := bytes.ToLower(bytes.TrimLeft(head, "\xef\xbb\xbf \t\r\n"))
	if !bytes.HasPrefix(lower, []byte("<")) {
		return false
	}
	return bytes.Contains(lower, []byte("<svg"))
}

// ServeAs says how a file of the stored media type is served: inline with
// its own type when the type is inert (raster images, audio, video, PDF,
// plain text), otherwise as an application/octet-stream attachment, so that
// HTML, SVG, XML, scripts and anything unknown never run in a browser.
func ServeAs(mimeType string) (contentType string, inline bool) {
	base, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return "application/octet-stream", false
	}
	switch {
	case inertTypes[base]:
		return mimeType, true
	case strings.HasPrefix(base, "audio/"), strings.HasPrefix(base, "video/"):
		return mimeType, true
	}
	return "application/octet-stream", false
}

var inertTypes = map[string]bool{
	"image/png":       true,
	"image/jpeg":      true,
	"image/gif":       true,
	"image/webp":      true,
	"image/bmp":       true,
	"image/avif":      true,
	"image/x-icon":    true,
	"application/pdf": true,
	"text/plain":      true,
	// application/ogg is audio or video in an Ogg container.
	"application/ogg": true,
	// application/octet-stream is left out on purpose: inline or not, a
	// browser downloads it, and as an attachment it keeps its name.
}

// imageSize reads the dimensions of PNG, JPEG, GIF and WebP images from
// their headers (never decoding the pixels).
func imageSize(f *os.File, mimeType string) (w, h int, ok bool) {
	var decode func(io.Reader) (image.Config, error)
	switch mimeType {
	case "image/png":
		decode = png.DecodeConfig
	case "image/jpeg":
		decode = jpeg.DecodeConfig
	case "image/gif":
		decode = gif.DecodeConfig
	case "image/webp":
		decode = webp.DecodeConfig
	default:
		return 0, 0, false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, false
	}
	cfg, err := decode(bufio.NewReader(f))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// sanitizeFileName keeps the base name a client gave, as valid UTF-8 without
// control or invisible formatting characters (such as the right-to-left
// override that disguises an extension), at most MaxFileNameLen bytes with
// its extension kept; "file" when nothing is left.
func sanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	if len(name) > MaxFileNameLen {
		ext := path.Ext(name)
		if len(ext) > 32 {
			ext = ""
		}
		base := name[:len(name)-len(ext)]
		cut := MaxFileNameLen - len(ext)
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		name = base[:cut] + ext
	}
	return name
}

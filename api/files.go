package api

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/parley-im/parley/handlers"
)

const tagFiles = "Files"

const (
	// multipartSlack is what a multipart body may hold beyond the file itself
	// (boundaries, part headers, small fields).
	multipartSlack = 64 << 10
	// uploadTimeout bounds the reading of one upload's body, so that a
	// client trickling bytes cannot hold a partial file for ever.
	uploadTimeout = 10 * time.Minute
)

// registerFiles adds the upload and download operations. The upload's body
// is read by the operation itself, as a stream to disk (huma would buffer a
// multipart form), so its request body is documented here by hand.
func (s *Server) registerFiles() {
	register(s, huma.Operation{
		OperationID: "uploadFile", Method: http.MethodPost, Path: "/v1/files",
		Summary: "Upload a file", Tags: []string{tagFiles}, DefaultStatus: http.StatusCreated,
		Security:    sessionOrMaster,
		Description: uploadDescription,
	}, []handlers.Code{handlers.CodeFileTooLarge}, s.uploadFile)
	if item := s.humaAPI.OpenAPI().Paths["/v1/files"]; item != nil && item.Post != nil {
		item.Post.RequestBody = &huma.RequestBody{
			Required:    true,
			Description: "A multipart/form-data form whose field file is the file (with its file name). Other fields are ignored.",
			Content: map[string]*huma.MediaType{
				"multipart/form-data": {
					Schema: &huma.Schema{
						Type:     "object",
						Required: []string{"file"},
						Properties: map[string]*huma.Schema{
							"file": {Type: "string", Format: "binary", Description: "The file; its name is kept (sanitised), its type is determined from its content"},
						},
					},
					Encoding: map[string]*huma.Encoding{"file": {ContentType: "*/*"}},
				},
			},
		}
		if created := item.Post.Responses["201"]; created != nil && created.Content["application/json"] != nil {
			created.Content["application/json"].Example = handlers.UploadedFile{
				ID: "0t5bq1m6k3v8a2d4e6g0h8j1k4", URL: "/v1/files/0t5bq1m6k3v8a2d4e6g0h8j1k4", Name: "cat.png",
				MimeType: "image/png", Size: 20480, MetaData: map[string]any{"width": 640, "height": 480},
			}
		}
	}

	register(s, huma.Operation{
		OperationID: "downloadFile", Method: http.MethodGet, Path: "/v1/files/{id}",
		Summary: "Download a file", Tags: []string{tagFiles},
		Security:    noCredentials, // the id is the capability: see downloadDescription
		Description: downloadDescription,
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The file's bytes (ranges supported).",
				Headers: map[string]*huma.Header{
					"Content-Disposition": {Description: "inline or attachment, with the file's name", Schema: &huma.Schema{Type: "string"},
						Example: `inline; filename="cat.png"`},
					"X-Content-Type-Options":  {Description: "Always nosniff", Schema: &huma.Schema{Type: "string"}, Example: "nosniff"},
					"Content-Security-Policy": {Description: "Always sandbox", Schema: &huma.Schema{Type: "string"}, Example: "sandbox"},
				},
				Content: map[string]*huma.MediaType{
					"*/*": {Schema: &huma.Schema{Type: "string", Format: "binary",
						Description: "The file, served as its own type when inert, else as application/octet-stream"}},
				},
			},
		},
	}, []handlers.Code{handlers.CodeFileNotFound}, s.downloadFile)
}

const uploadDescription = `Uploads one file as multipart/form-data, field file, and answers its id and url. The url is
a path on this server (GET /v1/files/{id}) that a message's file.url may point at; anyone who has it
can download the file. mimeType is determined from the content, not from what the client claims;
images (PNG, JPEG, GIF, WebP) get width and height in metaData. A file over the server's upload
limit (default 20 MiB) answers 413 FILE_TOO_LARGE and is not kept.`

const downloadDescription = `Serves an uploaded file's bytes. No credentials are needed (so that <img src>
works): the id is unguessable. Raster images, audio, video, PDF and plain text are served inline as
their own type; anything that could be active content (HTML, SVG, XML, scripts, anything else) is
served as an application/octet-stream attachment. Every answer carries X-Content-Type-Options:
nosniff and Content-Security-Policy: sandbox.`

// uploadInput takes the raw request: the handler streams the body itself.
type uploadInput struct {
	req *http.Request
	w   http.ResponseWriter
}

func (in *uploadInput) Resolve(ctx huma.Context) []error {
	in.req, in.w = humachi.Unwrap(ctx)
	return nil
}

type uploadOutput struct {
	Location string `header:"Location" doc:"The file's url"`
	Body     *handlers.UploadedFile
}

func (s *Server) uploadFile(ctx context.Context, in *uploadInput) (*uploadOutput, error) {
	svc := s.opt.Service
	r, w := in.req, in.w
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &handlers.Error{Code: handlers.CodeInvalidRequest,
			Detail: "the body must be multipart/form-data with the file in the field file"}
	}
	limit := svc.MaxUpload() + multipartSlack
	if r.ContentLength > limit {
		// Refuse before reading a byte.
		return nil, svc.TooLarge()
	}
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout))
	body := &uploadReader{r: http.MaxBytesReader(w, r.Body, limit), svc: svc}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "file: required: the form has no field file"}
		}
		if err != nil {
			var he *handlers.Error
			if errors.As(err, &he) {
				return nil, he
			}
			return nil, &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "the multipart form is malformed: " + err.Error()}
		}
		if part.FormName() != "file" {
			part.Close() // skips the part; a failure shows at NextPart
			continue
		}
		f, err := svc.SaveFile(ctx, principal(ctx), part.FileName(), part)
		if err != nil {
			return nil, err
		}
		return &uploadOutput{Location: f.URL, Body: f}, nil
	}
}

// uploadReader turns the errors of reading the body into the client's
// fault: over the limit (FILE_TOO_LARGE) or cut short (INVALID_REQUEST).
type uploadReader struct {
	r   io.Reader
	svc *handlers.Service
}

func (u *uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return n, u.svc.TooLarge()
	}
	return n, &handlers.Error{Code: handlers.CodeInvalidRequest, Detail: "the upload was cut short: " + err.Error()}
}

type downloadInput struct {
	ID string `path:"id" maxLength:"64" doc:"File id" example:"0t5bq1m6k3v8a2d4e6g0h8j1k4"`
}

func (s *Server) downloadFile(ctx context.Context, in *downloadInput) (*huma.StreamResponse, error) {
	f, err := s.opt.Service.OpenFile(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer f.Content.Close()
		r, w := humachi.Unwrap(hctx)
		h := w.Header()
		h.Set("Content-Type", f.ServeType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		disposition := "inline"
		if f.Attachment {
			disposition = "attachment"
		}
		if d := mime.FormatMediaType(disposition, map[string]string{"filename": f.Name}); d != "" {
			disposition = d
		}
		h.Set("Content-Disposition", disposition)
		// The bytes behind an id never change.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", `"`+f.ID+`"`)
		http.ServeContent(w, r, "", f.ModTime, f.Content)
	}}, nil
}

package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/internal/testparts"
)

// The models are fitted once for the package's tests.
var (
	modelsOnce sync.Once
	partsModel *pni.Model // calibrated, on 16 good parts
	uncalModel *pni.Model // fitted on one image: no decision
	modelsErr  error
)

func models(t testing.TB) (*pni.Model, *pni.Model) {
	t.Helper()
	modelsOnce.Do(func() {
		ctx := context.Background()
		if partsModel, modelsErr = pni.Fit(ctx, testparts.Good(16), testparts.Options()...); modelsErr != nil {
			return
		}
		uncalModel, modelsErr = pni.Fit(ctx, testparts.Good(1), testparts.Options()...)
	})
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	return partsModel, uncalModel
}

func newServer(t testing.TB, opt Options) *Server {
	t.Helper()
	parts, uncal := models(t)
	s, err := New(map[string]Model{"parts": parts, "uncal": uncal}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do runs one request through the handler.
func do(t testing.TB, h http.Handler, method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// wantJSONError checks a JSON error answer of the given status.
func wantJSONError(t testing.TB, w *httptest.ResponseRecorder, code int) string {
	t.Helper()
	if w.Code != code {
		t.Errorf("status %d, want %d: %s", w.Code, code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Errorf("not a JSON error: %q (%v)", w.Body, err)
	}
	return e.Error
}

func decodeScore(t testing.TB, b []byte) ScoreResponse {
	t.Helper()
	var r ScoreResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return r
}

// TestScore checks the JSON answer for a good and a defective part (raw
// body and multipart form), the overlay and panel PNGs, the embedded
// overlay and an uncalibrated model's answer.
func TestScore(t *testing.T) {
	s := newServer(t, Options{})
	good := testparts.PNG(t, testparts.Texture(1, false, 50))
	bad := testparts.PNG(t, testparts.Texture(1, true, 50))

	w := do(t, s, "POST", "/v1/models/parts/score", good, "Content-Type", "image/png")
	if w.Code != 200 {
		t.Fatalf("good: %d %s", w.Code, w.Body)
	}
	var raw map[string]any
	json.Unmarshal(w.Body.Bytes(), &raw)
	for _, k := range []string{"model", "score", "normalized", "anomalous", "calibrated", "pixel_level", "width", "height", "regions", "timings"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("answer has no %q: %s", k, w.Body)
		}
	}
	g := decodeScore(t, w.Body.Bytes())
	if g.Model != "parts" || g.Anomalous || !g.Calibrated || g.Normalized == nil || *g.Normalized >= 0.5 ||
		len(g.Regions) != 0 || g.Width != 64 || g.Height != 64 || g.Timings.Score <= 0 || g.Timings.Total < g.Timings.Score {
		t.Errorf("good part: %s", w.Body)
	}

	// A multipart form, as a browser's form or curl -F sends it.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("note", "first a field that is not the file")
	fw, _ := mw.CreateFormFile("image", "bad.png")
	fw.Write(bad)
	mw.Close()
	w = do(t, s, "POST", "/v1/models/parts/score", form.Bytes(), "Content-Type", mw.FormDataContentType())
	b := decodeScore(t, w.Body.Bytes())
	if w.Code != 200 || !b.Anomalous || *b.Normalized <= 0.5 || len(b.Regions) == 0 {
		t.Fatalf("defect: %d %s", w.Code, w.Body)
	}
	r0 := b.Regions[0]
	if !image.Rect(r0.X, r0.Y, r0.X+r0.W, r0.Y+r0.H).Overlaps(testparts.Defect) || r0.Area <= 0 || r0.Peak < 0.5 {
		t.Errorf("top region %+v misses the defect %v", r0, testparts.Defect)
	}

	// The overlay, by query or by Accept.
	for _, tc := range []struct{ target, accept string }{
		{"/v1/models/parts/score?overlay=1", ""},
		{"/v1/models/parts/score", "image/png"},
	} {
		w = do(t, s, "POST", tc.target, bad, "Accept", tc.accept)
		if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" || w.Header().Get("X-PNI-Anomalous") != "true" {
			t.Fatalf("%s (Accept %q): %d %v", tc.target, tc.accept, w.Code, w.Header())
		}
		img, err := png.Decode(w.Body)
		if err != nil || img.Bounds().Dx() != 64 {
			t.Errorf("overlay: %v, %v", err, img)
		}
	}
	w = do(t, s, "POST", "/v1/models/parts/score?panel=1", bad)
	if img, err := png.Decode(w.Body); w.Code != 200 || err != nil || img.Bounds().Dx() <= 3*64 {
		t.Errorf("panel: %d %v", w.Code, err)
	}
	w = do(t, s, "POST", "/v1/models/parts/score?embed=overlay", bad)
	b = decodeScore(t, w.Body.Bytes())
	data, ok := strings.CutPrefix(b.Overlay, "data:image/png;base64,")
	pngBytes, err := base64.StdEncoding.DecodeString(data)
	if !ok || err != nil {
		t.Fatalf("embedded overlay %.40q: %v", b.Overlay, err)
	}
	if _, err := png.Decode(bytes.NewReader(pngBytes)); err != nil {
		t.Errorf("embedded overlay: %v", err)
	}

	// An uncalibrated model scores without a decision.
	w = do(t, s, "POST", "/v1/models/uncal/score", bad)
	u := decodeScore(t, w.Body.Bytes())
	if w.Code != 200 || u.Calibrated || u.Normalized != nil || u.Anomalous || u.Score <= 0 {
		t.Errorf("uncalibrated: %d %s", w.Code, w.Body)
	}
}

// pngHeader is a PNG signature and IHDR chunk declaring w x h pixels,
// with no pixel data: what a crafted "decompression bomb" starts with.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

// TestErrors sends every kind of bad request and checks its 4xx status
// and JSON error.
func TestErrors(t *testing.T) {
	s := newServer(t, Options{MaxBodyBytes: 64 << 10, MaxPixels: 1 << 20})
	good := testparts.PNG(t, testparts.Texture(0, false, 1))
	big := make([]byte, 100<<10) // over MaxBodyBytes
	copy(big, good)
	for _, tc := range []struct {
		name, method, target string
		body                 []byte
		header               []string
		code                 int
		says                 string
	}{
		{"truncated image", "POST", "/v1/models/parts/score", good[:len(good)/2], nil, 400, "truncated"},
		{"not an image", "POST", "/v1/models/parts/score", []byte("hello, this is text"), nil, 415, "not an image"},
		{"huge dimensions header", "POST", "/v1/models/parts/score", pngHeader(100000, 100000), nil, 413, "pixels"},
		{"empty body", "POST", "/v1/models/parts/score", nil, nil, 400, "empty body"},
		{"wrong model name", "POST", "/v1/models/nosuch/score", good, nil, 404, "parts, uncal"},
		{"body too large", "POST", "/v1/models/parts/score", big, nil, 413, "larger than"},
		{"wrong method", "GET", "/v1/models/parts/score", nil, nil, 405, "POST"},
		{"wrong method on the list", "POST", "/v1/models", good, nil, 405, "GET"},
		{"wrong method on health", "DELETE", "/healthz", nil, nil, 405, "GET"},
		{"unknown path", "GET", "/v2/anything", nil, nil, 404, "no such path"},
		{"unknown model info", "GET", "/v1/models/nosuch", nil, nil, 404, "no model"},
		{"bad embed", "POST", "/v1/models/parts/score?embed=panel", good, nil, 400, "embed"},
		{"multipart without a file", "POST", "/v1/models/parts/score", []byte("--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--X--\r\n"),
			[]string{"Content-Type", "multipart/form-data; boundary=X"}, 400, "no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s, tc.method, tc.target, tc.body, tc.header...)
			msg := wantJSONError(t, w, tc.code)
			if !strings.Contains(msg, tc.says) {
				t.Errorf("error %q does not say %q", msg, tc.says)
			}
			if tc.code == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// A body too large without Content-Length (chunked) is cut at the limit.
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/models/parts/score", "image/png", io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.ContentLength == 0 {
		t.Errorf("chunked body too large: %d", resp.StatusCode)
	}
}

// TestModelsHealthMetricsPage checks the GET endpoints.
func TestModelsHealthMetricsPage(t *testing.T) {
	s := newServer(t, Options{})
	w := do(t, s, "GET", "/v1/models", nil)
	var list struct {
		Models []ModelEntry `json:"models"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list.Models) != 2 {
		t.Fatalf("models: %d %s %v", w.Code, w.Body, err)
	}
	p := list.Models[0]
	if p.Name != "parts" || list.Models[1].Name != "uncal" || p.TrainImages != 16 || len(p.Members) != 1 ||
		p.Members[0].Input != [2]int{64, 64} || p.Members[0].EmbSize == 0 || p.Members[0].Backbone != "tiny_backbone.onnx" ||
		p.Calibration == nil || !(p.Calibration.ImageThreshold > 0) || list.Models[1].Calibration != nil {
		t.Errorf("models: %s", w.Body)
	}
	if w := do(t, s, "GET", "/v1/models/uncal", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"calibration":null`) {
		t.Errorf("one model: %d %s", w.Code, w.Body)
	}
	if w := do(t, s, "GET", "/healthz", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) {
		t.Errorf("healthz: %d %s", w.Code, w.Body)
	}
	w = do(t, s, "GET", "/", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<select id="model">`) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("page: %d %.80s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "http://") || strings.Contains(w.Body.String(), "https://") {
		t.Error("the page refers to an outside address")
	}
	do(t, s, "POST", "/v1/models/parts/score", testparts.PNG(t, testparts.Texture(0, false, 3)))
	do(t, s, "POST", "/v1/models/parts/score", []byte("x"))
	w = do(t, s, "GET", "/metrics", nil)
	body := w.Body.String()
	for _, want := range []string{
		`pni_http_requests_total{code="200",route="score"} 1`,
		`pni_http_requests_total{code="415",route="score"} 1`,
		`pni_http_requests_total{code="200",route="models"} 2`,
		`pni_http_request_duration_seconds_bucket{route="score",le="+Inf"} 2`,
		`pni_http_in_flight_requests 1`, // this request
		`pni_score_queue_depth 0`,
		`pni_score_duration_seconds_count{model="parts"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics Content-Type %q", ct)
	}
}

// TestNew checks the argument errors of New.
func TestNew(t *testing.T) {
	parts, _ := models(t)
	for name, ms := range map[string]map[string]Model{
		"no models": {},
		"bad name":  {"a/b": parts},
		"nil model": {"a": nil},
	} {
		if _, err := New(ms, Options{}); !errors.Is(err, pni.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// gated is a model whose Score waits for a token on gate (or ctx).
type gated struct {
	*pni.Model
	gate    chan struct{}
	started chan struct{}
}

func (g *gated) Score(ctx context.Context, img image.Image) (*pni.Result, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Model.Score(ctx, img)
}

// TestOverloadAndTimeout fills the worker and the queue: the next request
// gets 503 with Retry-After at once while bad input still gets its 4xx;
// a request past its timeout gets 503.
func TestOverloadAndTimeout(t *testing.T) {
	parts, _ := models(t)
	g := &gated{Model: parts, gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s, err := New(map[string]Model{"slow": g}, Options{Workers: 1, Queue: 1, Timeout: 5 * time.Second, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	good := testparts.PNG(t, testparts.Texture(0, false, 3))
	codes := make(chan int, 2)
	for range 2 { // one scoring, one queued
		go func() { codes <- do(t, s, "POST", "/v1/models/slow/score", good).Code }()
	}
	<-g.started
	deadline := time.Now().Add(5 * time.Second)
	for s.admitted.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	w := do(t, s, "POST", "/v1/models/slow/score", good)
	wantJSONError(t, w, 503)
	if w.Header().Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q, want 3", w.Header().Get("Retry-After"))
	}
	wantJSONError(t, do(t, s, "POST", "/v1/models/slow/score", []byte("not an image")), 415)
	close(g.gate)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("held request: %d", c)
		}
	}

	// Timeout while scoring.
	g2 := &gated{Model: parts, gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s2, _ := New(map[string]Model{"slow": g2}, Options{Timeout: 50 * time.Millisecond})
	w = do(t, s2, "POST", "/v1/models/slow/score", good)
	if msg := wantJSONError(t, w, 503); !strings.Contains(msg, "timed out") {
		t.Errorf("timeout error %q", msg)
	}
}

// TestGracefulShutdown cancels Serve's context while a request is being
// scored: the request finishes with 200, health turns 503, Serve returns
// nil and the port stops accepting.
func TestGracefulShutdown(t *testing.T) {
	parts, _ := models(t)
	g := &gated{Model: parts, gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s, _ := New(map[string]Model{"slow": g}, Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l, 10*time.Second) }()
	code := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/v1/models/slow/score", "image/png", bytes.NewReader(testparts.PNG(t, testparts.Texture(0, false, 3))))
		if err != nil {
			code <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	<-g.started
	cancel()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	wantJSONError(t, do(t, s, "GET", "/healthz", nil), 503)
	time.Sleep(50 * time.Millisecond) // Serve is waiting for the request
	close(g.gate)
	if c := <-code; c != 200 {
		t.Errorf("request in flight: %d", c)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still accepting after shutdown")
	}
}

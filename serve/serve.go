// Package serve is pni's HTTP scoring service: several fitted models by
// name, scored with bounded concurrency, with Prometheus metrics and a
// review page. The pni command's "serve" runs it; a program embeds it with
// New and mounts the Server (an http.Handler) on its own mux, or runs it
// with Serve.
//
// Endpoints:
//
//	POST /v1/models/{name}/score  the image as the raw body, or as a multipart form file
//	                              -> JSON: score, normalized, anomalous, regions, timings
//	     ?overlay=1 (or Accept: image/png)  -> the heatmap overlay PNG instead
//	                                          (the decision in X-PNI-* headers)
//	     ?panel=1                           -> the review panel PNG (package report)
//	     ?embed=overlay                     -> JSON with the overlay as a data URL
//	GET  /v1/models               the models: name, settings, thresholds
//	GET  /healthz                 200 {"status":"ok"}; 503 while shutting down
//	GET  /metrics                 Prometheus text format
//	GET  /                        a page to try a model on an image
//
// Every error is JSON, {"error": "what is wrong and what to do"}, with a
// 4xx status for a bad request (400 malformed, 404 unknown model or path,
// 405 wrong method, 413 body or image too large, 415 not an image) and 503
// with Retry-After when the service is full or a request ran out of time.
//
// Admission is bounded twice: at most Options.Readers requests read and
// check their body at once, and at most Options.Workers images are decoded
// and scored at once with at most Options.Queue more waiting; past either
// bound a request gets 503 at once. A request turned away by a full queue
// is decoded first (under the Readers bound), so that bad input always
// gets its 4xx, even while the scorers are busy. Memory is bounded by
// about (Readers + Queue) x MaxBodyBytes plus Readers + Workers decoded
// images and the Workers' maps.
package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/x/pni"
	"github.com/x/pni/imageio"
	"github.com/x/pni/report"
)

// Model is what the service needs of a model; *pni.Model is one.
type Model interface {
	Score(ctx context.Context, img image.Image) (*pni.Result, error)
	Info() pni.Info
	Calibration() pni.Calibration
}

// Options configures a Server; the zero value uses the defaults.
type Options struct {
	// Workers is how many images are decoded and scored at once (default
	// 2; each Score call already uses every core for its convolutions).
	Workers int
	// Queue is how many checked requests may wait for a worker (default
	// 4 x Workers); past it a request gets 503 with Retry-After.
	Queue int
	// Readers is how many requests may read and check their body at once
	// (default 16); past it a request gets 503.
	Readers int
	// Timeout bounds each scoring request, queueing included (default 30
	// s); a request out of time gets 503.
	Timeout time.Duration
	// MaxBodyBytes is the largest request body (default 32 MiB); a larger
	// one gets 413.
	MaxBodyBytes int64
	// MaxPixels is the largest image (width x height) accepted, checked on
	// the header before decoding (default 2^25, 33.5 Mpx); a larger one
	// gets 413.
	MaxPixels int64
	// RetryAfter is the Retry-After of a 503 (default 1 s).
	RetryAfter time.Duration
	// OverlayMaxSide bounds the longer side of overlay PNGs (default 1024).
	OverlayMaxSide int
	// Logger receives one line per failed request and the shutdown steps
	// (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.Workers
	}
	if o.Readers <= 0 {
		o.Readers = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 1 << 25
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.OverlayMaxSide <= 0 {
		o.OverlayMaxSide = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server serves models over HTTP. It is an http.Handler; Serve runs it on
// a listener with graceful shutdown.
type Server struct {
	opt    Options
	models map[string]Model
	names  []string
	mux    *http.ServeMux

	readers  atomic.Int64  // requests reading their body
	admitted atomic.Int64  // requests holding or waiting for a worker
	workers  chan struct{} // worker slots
	draining atomic.Bool

	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	queue    prometheus.Gauge
	scoreDur *prometheus.HistogramVec
}

// validName is what a model name may be: it appears in URL paths.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// New makes a Server for the named models. Names must be 1-128 letters,
// digits, '.', '_' or '-' (starting with a letter or digit).
func New(models map[string]Model, opt Options) (*Server, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("serve: %w: no models", pni.ErrInvalidArgument)
	}
	s := &Server{opt: opt.withDefaults(), models: map[string]Model{}, mux: http.NewServeMux()}
	for name, m := range models {
		if !validName.MatchString(name) {
			return nil, fmt.Errorf("serve: %w: model name %q: use letters, digits, '.', '_' and '-'", pni.ErrInvalidArgument, name)
		}
		if m == nil {
			return nil, fmt.Errorf("serve: %w: model %q is nil", pni.ErrInvalidArgument, name)
		}
		s.models[name] = m
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	s.workers = make(chan struct{}, s.opt.Workers)

	s.reg = prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pni_http_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pni_http_request_duration_seconds",
		Help: "HTTP request latency by route.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
		[]string{"route"})
	s.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pni_http_in_flight_requests",
		Help: "HTTP requests being served."})
	s.queue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pni_score_queue_depth",
		Help: "Checked scoring requests waiting for a worker."})
	s.scoreDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pni_score_duration_seconds",
		Help: "Model.Score time by model.", Buckets: prometheus.ExponentialBuckets(0.002, 2, 14)}, []string{"model"})
	s.reg.MustRegister(s.requests, s.latency, s.inFlight, s.queue, s.scoreDur,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pni_score_workers", Help: "Worker slots (Options.Workers)."},
			func() float64 { return float64(s.opt.Workers) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.handle("/v1/models/{name}/score", "score", s.score)
	s.handle("/v1/models/{name}", "models", s.model)
	s.handle("/v1/models", "models", s.list)
	s.handle("/healthz", "healthz", s.healthz)
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	s.handle("/metrics", "metrics", func(w http.ResponseWriter, r *http.Request) error {
		if err := s.methods(r, http.MethodGet, http.MethodHead); err != nil {
			return err
		}
		metrics.ServeHTTP(w, r)
		return nil
	})
	s.handle("/{$}", "page", s.page)
	s.handle("/", "other", func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf("no such path %s: the API is POST /v1/models/{name}/score, GET /v1/models, GET /healthz, GET /metrics", r.URL.Path)}
	})
	return s, nil
}

// Registry is the Prometheus registry /metrics serves, for a program
// that adds its own collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// ServeHTTP serves the endpoints of the package doc.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Names returns the models' names, sorted.
func (s *Server) Names() []string { return slices.Clone(s.names) }

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// httpError is an error answered with a status and a JSON message.
type httpError struct {
	code  int
	msg   string
	allow string // the Allow header of a 405
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// handle registers fn for pattern, with metrics, panic safety and JSON errors.
func (s *Server) handle(pattern, route string, fn func(http.ResponseWriter, *http.Request) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.inFlight.Inc()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.opt.Logger.Error("panic serving request", "path", r.URL.Path, "panic", p)
				if sw.code == 0 {
					s.writeError(sw, r, errorf(http.StatusInternalServerError, "internal error: %v", p))
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			if r.Context().Err() != nil && code == http.StatusServiceUnavailable {
				code = 499 // the client went away (nginx's code)
			}
			s.inFlight.Dec()
			s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		if err := fn(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{code: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
	}
	if he.code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.opt.RetryAfter.Round(time.Second)/time.Second))))
	}
	if he.allow != "" {
		w.Header().Set("Allow", he.allow)
	}
	if he.code >= 500 && he.code != http.StatusServiceUnavailable {
		s.opt.Logger.Error("request failed", "path", r.URL.Path, "code", he.code, "err", he.msg)
	}
	writeJSON(w, he.code, map[string]string{"error": he.msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error: encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// ModelEntry is one model in GET /v1/models.
type ModelEntry struct {
	Name string `json:"name"`
	report.Model
}

func (s *Server) entry(name string) ModelEntry {
	m := s.models[name]
	return ModelEntry{Name: name, Model: report.NewModel(m.Info(), m.Calibration())}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	if err := s.methods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	out := struct {
		Models []ModelEntry `json:"models"`
	}{Models: []ModelEntry{}}
	for _, n := range s.names {
		out.Models = append(out.Models, s.entry(n))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) error {
	if err := s.methods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, ok := s.models[name]; !ok {
		return s.noModel(name)
	}
	writeJSON(w, http.StatusOK, s.entry(name))
	return nil
}

func (s *Server) noModel(name string) error {
	return errorf(http.StatusNotFound, "no model named %q: the models are %s (GET /v1/models lists them)", name, strings.Join(s.names, ", "))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if err := s.methods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, "shutting down: send requests to another instance")
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "models": len(s.names)})
	return nil
}

// methods is allow, answered as a 405 with the Allow header.
func (s *Server) methods(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) {
		return nil
	}
	list := strings.Join(methods, ", ")
	return &httpError{code: http.StatusMethodNotAllowed, allow: list,
		msg: fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, list)}
}

// Timings are the stages of a scoring request, in milliseconds.
type Timings struct {
	Read   float64 `json:"read_ms"`   // reading the body
	Queue  float64 `json:"queue_ms"`  // waiting for a worker
	Decode float64 `json:"decode_ms"` // decoding the image
	Score  float64 `json:"score_ms"`  // Model.Score
	Total  float64 `json:"total_ms"`  // the whole request until the answer is written
}

// ScoreResponse is the JSON answer of POST /v1/models/{name}/score.
type ScoreResponse struct {
	Model string `json:"model"`
	report.Result
	Timings Timings `json:"timings"`
	// Overlay is the heatmap overlay as a data:image/png;base64 URL, with
	// ?embed=overlay.
	Overlay string `json:"overlay,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *Server) score(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	if err := s.methods(r, http.MethodPost); err != nil {
		return err
	}
	name := r.PathValue("name")
	m, ok := s.models[name]
	if !ok {
		return s.noModel(name)
	}
	q := r.URL.Query()
	wantOverlay := isTrue(q.Get("overlay")) || acceptsPNG(r.Header.Get("Accept"))
	wantPanel := isTrue(q.Get("panel"))
	embed := q.Get("embed")
	if embed != "" && embed != "overlay" {
		return errorf(http.StatusBadRequest, "embed=%q: the only embeddable picture is embed=overlay", embed)
	}
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, "shutting down: retry on another instance")
	}
	if r.ContentLength > s.opt.MaxBodyBytes {
		return s.tooLarge()
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.Timeout)
	defer cancel()

	// Stage 1: read and check the body, then join the queue.
	if s.readers.Add(1) > int64(s.opt.Readers) {
		s.readers.Add(-1)
		return errorf(http.StatusServiceUnavailable, "too many uploads at once: retry after the Retry-After delay")
	}
	body, err := s.check(w, r)
	s.readers.Add(-1)
	if err != nil {
		return err
	}
	tRead := time.Since(start)
	dec := imageio.Decoder{MaxPixels: s.opt.MaxPixels}

	// Stage 2: wait for a worker.
	if s.admitted.Add(1) > int64(s.opt.Workers+s.opt.Queue) {
		s.admitted.Add(-1)
		// Full: a damaged image is told so rather than to come back later.
		if s.readers.Add(1) <= int64(s.opt.Readers) {
			_, err := dec.Decode(bytes.NewReader(body))
			s.readers.Add(-1)
			if err != nil {
				return imageErr(err)
			}
		} else {
			s.readers.Add(-1)
		}
		return errorf(http.StatusServiceUnavailable, "the service is busy (%d images being scored and %d waiting): retry after the Retry-After delay", s.opt.Workers, s.opt.Queue)
	}
	defer s.admitted.Add(-1)
	s.queue.Inc()
	tq := time.Now()
	select {
	case s.workers <- struct{}{}:
		s.queue.Dec()
	case <-ctx.Done():
		s.queue.Dec()
		return s.timeout(r)
	}
	defer func() { <-s.workers }()
	tQueue := time.Since(tq)

	// Stage 3: decode and score.
	t0 := time.Now()
	img, err := dec.Decode(bytes.NewReader(body))
	if err != nil {
		return imageErr(err)
	}
	body = nil
	tDecode := time.Since(t0)
	t0 = time.Now()
	res, err := m.Score(ctx, img)
	tScore := time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return s.timeout(r)
		}
		if errors.Is(err, pni.ErrInvalidArgument) {
			return errorf(http.StatusBadRequest, "the image cannot be scored: %v", err)
		}
		return err
	}
	s.scoreDur.WithLabelValues(name).Observe(tScore.Seconds())
	timings := Timings{Read: ms(tRead), Queue: ms(tQueue), Decode: ms(tDecode), Score: ms(tScore)}

	if wantOverlay || wantPanel {
		var pic image.Image
		if wantPanel {
			pic, err = report.Panel(img, res, report.Options{Title: name})
		} else {
			pic, err = report.Overlay(img, res, s.opt.OverlayMaxSide)
		}
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := report.EncodePNG(&buf, pic); err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "image/png")
		h.Set("X-PNI-Score", strconv.FormatFloat(float64(res.Score), 'g', 6, 32))
		h.Set("X-PNI-Anomalous", strconv.FormatBool(res.Anomalous))
		if res.NormMap != nil {
			h.Set("X-PNI-Normalized", strconv.FormatFloat(float64(res.Normalized), 'g', 6, 32))
		}
		h.Set("X-PNI-Regions", strconv.Itoa(len(res.Regions)))
		h.Set("X-PNI-Score-Ms", strconv.FormatFloat(timings.Score, 'f', 1, 64))
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
		return nil
	}
	out := ScoreResponse{Model: name, Result: report.NewResult(res)}
	if embed == "overlay" {
		ov, err := report.Overlay(img, res, s.opt.OverlayMaxSide)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := report.EncodePNG(&buf, ov); err != nil {
			return err
		}
		out.Overlay = "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	timings.Total = ms(time.Since(start))
	out.Timings = timings
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) timeout(r *http.Request) error {
	if r.Context().Err() != nil {
		return errorf(http.StatusServiceUnavailable, "the request was cancelled")
	}
	return errorf(http.StatusServiceUnavailable, "timed out after %v (the service is busy): retry after the Retry-After delay", s.opt.Timeout)
}

func (s *Server) tooLarge() error {
	return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes: send a smaller (downscaled or compressed) image", s.opt.MaxBodyBytes)
}

func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// acceptsPNG tells whether an Accept header asks for image/png before JSON.
func acceptsPNG(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "image/png":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

// check reads the body and checks the image header.
func (s *Server) check(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if _, err := (imageio.Decoder{MaxPixels: s.opt.MaxPixels}).DecodeConfig(bytes.NewReader(body)); err != nil {
		return nil, imageErr(err)
	}
	return body, nil
}

// readBody reads the image bytes: the raw body, or the first file of a
// multipart form (preferring the field "image").
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limited := http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var src io.Reader = limited
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "bad multipart form: %v", err)
		}
		r.Body = limited
		for {
			p, err := mr.NextPart()
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, s.tooLarge()
				}
				return nil, errorf(http.StatusBadRequest, "the multipart form has no file: send the image as a form file named \"image\"")
			}
			if p.FormName() == "image" || p.FileName() != "" {
				src = p
				break
			}
			p.Close()
		}
	}
	body, err := io.ReadAll(src)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, s.tooLarge()
		}
		return nil, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(body) == 0 {
		return nil, errorf(http.StatusBadRequest, "empty body: send the image file as the request body (curl --data-binary @part.png) or as a multipart form file named \"image\"")
	}
	return body, nil
}

// imageErr turns an imageio error into the answer for it.
func imageErr(err error) error {
	var fe *imageio.FormatError
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "%s", strings.TrimPrefix(err.Error(), "imageio: "))
	case errors.Is(err, imageio.ErrEmpty):
		return errorf(http.StatusBadRequest, "the image has no pixels (%s): send a real image", strings.TrimPrefix(err.Error(), "imageio: "))
	case errors.As(err, &fe) && fe.Msg == "not a readable image header":
		return errorf(http.StatusUnsupportedMediaType, "the body is not an image pni can read (%v): send PNG, JPEG, GIF, BMP, TIFF or WebP", fe.Err)
	case errors.As(err, &fe):
		return errorf(http.StatusBadRequest, "the image is truncated or corrupt (%s): send the whole file", strings.TrimPrefix(err.Error(), "imageio: "))
	}
	return errorf(http.StatusBadRequest, "the image cannot be read: %v", err)
}

// Serve serves s on l until ctx is done, then shuts down gracefully: new
// connections are refused, /healthz answers 503, and the requests in
// flight are given up to grace to finish (0: Options.Timeout + 5 s)
// before their connections are closed. It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	if grace <= 0 {
		grace = s.opt.Timeout + 5*time.Second
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: s.opt.Timeout + 10*time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.opt.Logger.Info("shutting down: waiting for requests in flight", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	s.opt.Logger.Info("shut down")
	return nil
}

package serve

import (
	_ "embed"
	"net/http"
)

// pageHTML is the page at /: plain HTML and JavaScript, no external
// resources, so it works on a closed network.
//
//go:embed page/index.html
var pageHTML []byte

func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	if err := s.methods(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(pageHTML)
	}
	return nil
}

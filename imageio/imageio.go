// Package imageio reads images for pni with a size guard: the header is
// decoded first (image.DecodeConfig) and an image with a zero side or more
// than a pixel limit is refused before any pixel memory is allocated, so a
// crafted or damaged file cannot exhaust memory. PNG, JPEG, GIF, BMP, TIFF
// and WebP are registered; the format is detected from the content, not the
// file name.
package imageio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // register GIF
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"os"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// MaxPixels is the default pixel limit (width x height): 64 Mpx (2^26),
// about 256 MB as RGBA.
const MaxPixels = 1 << 26

// Causes wrapped by a *FormatError; test with errors.Is.
var (
	// ErrTooLarge: the header declares more pixels than the limit.
	ErrTooLarge = errors.New("image larger than the pixel limit")
	// ErrEmpty: the header declares a zero width or height.
	ErrEmpty = errors.New("image has zero width or height")
)

// FormatError reports image data that cannot be used: not an image in a
// registered format, truncated or corrupt, empty, or over the pixel limit
// (Err is ErrTooLarge or ErrEmpty then, or the decoder's error).
type FormatError struct {
	Path string // the file, empty when decoding a stream
	Msg  string // what is wrong
	Err  error  // the cause
}

func (e *FormatError) Error() string {
	s := "imageio: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *FormatError) Unwrap() error { return e.Err }

// Decoder decodes images under a pixel limit. The zero value uses
// MaxPixels.
type Decoder struct {
	// MaxPixels is the largest width x height accepted; 0 means MaxPixels.
	MaxPixels int64
}

func (d Decoder) limit() int64 {
	if d.MaxPixels > 0 {
		return d.MaxPixels
	}
	return MaxPixels
}

// Load reads and decodes the image file at path. A file that cannot be
// opened gives the *fs.PathError; bad content a *FormatError naming path.
func (d Decoder) Load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	img, err := d.Decode(bufio.NewReader(f))
	if fe, ok := err.(*FormatError); ok {
		fe.Path = path
	}
	return img, err
}

// Decode decodes an image from r, checking its header first. The bytes
// read for the header are kept and replayed to the decoder, so r need not
// be seekable.
func (d Decoder) Decode(r io.Reader) (image.Image, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, &FormatError{Msg: "not a readable image header", Err: err}
	}
	if err := d.check(cfg, format); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, &FormatError{Msg: "decoding " + format, Err: err}
	}
	return img, nil
}

// DecodeConfig reads only the header of the image in r and checks it
// against the limit.
func (d Decoder) DecodeConfig(r io.Reader) (image.Config, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return cfg, &FormatError{Msg: "not a readable image header", Err: err}
	}
	return cfg, d.check(cfg, format)
}

func (d Decoder) check(cfg image.Config, format string) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return &FormatError{Msg: fmt.Sprintf("%s %dx%d", format, cfg.Width, cfg.Height), Err: ErrEmpty}
	}
	if int64(cfg.Width)*int64(cfg.Height) > d.limit() {
		return &FormatError{Msg: fmt.Sprintf("%s %dx%d has more than %d pixels: downscale it first", format, cfg.Width, cfg.Height, d.limit()), Err: ErrTooLarge}
	}
	return nil
}

// Load is Decoder{}.Load.
func Load(path string) (image.Image, error) { return Decoder{}.Load(path) }

// Decode is Decoder{}.Decode.
func Decode(r io.Reader) (image.Image, error) { return Decoder{}.Decode(r) }

// DecodeBytes decodes an image held in memory under the default limit.
func DecodeBytes(b []byte) (image.Image, error) { return Decoder{}.Decode(bytes.NewReader(b)) }

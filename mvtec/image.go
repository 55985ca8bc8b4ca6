package mvtec

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"os"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// MaxPixels is the largest image (width x height) that [LoadImage] and
// [LoadMask] decode: 64 Mpx (2^26), about 256 MB as RGBA. Larger headers are
// rejected before any pixel memory is allocated.
const MaxPixels = 1 << 26

// Errors wrapped by [LoadImage] and [LoadMask] in an [*ImageError].
var (
	// ErrTooLarge: the image header declares more than MaxPixels pixels.
	ErrTooLarge = errors.New("image larger than mvtec.MaxPixels")
	// ErrEmptyImage: the image header declares a zero width or height.
	ErrEmptyImage = errors.New("image has zero width or height")
)

// ImageError is an image that could not be read: Path is the file, Err the
// cause (an os error, an image format error, ErrTooLarge or ErrEmptyImage).
type ImageError struct {
	Path string
	Err  error
}

func (e *ImageError) Error() string { return "mvtec: " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ImageError) Unwrap() error { return e.Err }

// LoadImage decodes a PNG, JPEG, BMP, TIFF or WebP file (detected from its
// content, not its name). It reads the header first and rejects an image with
// a zero dimension or more than [MaxPixels] pixels. Errors are [*ImageError]s
// naming path.
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ImageError{path, err}
	}
	defer f.Close()
	br := bufio.NewReader(f)
	cfg, format, err := image.DecodeConfig(br)
	if err != nil {
		return nil, &ImageError{path, fmt.Errorf("reading the header: %w", err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, &ImageError{path, fmt.Errorf("%w (%s, %dx%d)", ErrEmptyImage, format, cfg.Width, cfg.Height)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, &ImageError{path, fmt.Errorf("%w (%s, %dx%d > %d pixels)", ErrTooLarge, format, cfg.Width, cfg.Height, MaxPixels)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, &ImageError{path, err}
	}
	br.Reset(f)
	img, _, err := image.Decode(br)
	if err != nil {
		return nil, &ImageError{path, fmt.Errorf("decoding %s: %w", format, err)}
	}
	return img, nil
}

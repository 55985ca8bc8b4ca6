package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/x/pni/internal/testenv"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	data := make([]byte, 13)
	binary.BigEndian.PutUint32(data[0:], w)
	binary.BigEndian.PutUint32(data[4:], h)
	data[8], data[9] = 8, 0 // bit depth 8, grayscale
	chunk := append([]byte("IHDR"), data...)
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var full bytes.Buffer
	png.Encode(&full, testenv.Gradient(40, 30))

	huge := write("huge.png", pngHeader(100000, 100000))
	_, err := Load(huge)
	var ie *FormatError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &ie) || ie.Path != huge || !strings.Contains(err.Error(), huge) {
		t.Errorf("huge: %v", err)
	}
	// Exactly MaxPixels passes the header check, then fails for lack of
	// pixel data (the PNG decoder allocates only once IDAT arrives).
	if _, err := Load(write("edge.png", pngHeader(1<<13, 1<<13))); err == nil || errors.Is(err, ErrTooLarge) {
		t.Errorf("8192x8192 header: %v", err)
	}
	for name, b := range map[string][]byte{
		"zero.png":      pngHeader(0, 10),
		"truncated.png": full.Bytes()[:full.Len()/2],
		"corrupt.png":   append(append([]byte{}, full.Bytes()[:60]...), bytes.Repeat([]byte{0xAB}, 200)...),
		"empty.png":     nil,
		"text.png":      []byte("this is not an image"),
	} {
		p := write(name, b)
		_, err := Load(p)
		if err == nil || !errors.As(err, &ie) || ie.Path != p || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.png")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent: %v", err)
	}
}

func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	src := testenv.Gradient(9, 7)
	enc := map[string]func(*bytes.Buffer) error{
		"a.png":  func(b *bytes.Buffer) error { return png.Encode(b, src) },
		"g.png":  func(b *bytes.Buffer) error { return png.Encode(b, testenv.Gray(9, 7, 3)) },
		"a.jpg":  func(b *bytes.Buffer) error { return jpeg.Encode(b, src, &jpeg.Options{Quality: 95}) },
		"a.bmp":  func(b *bytes.Buffer) error { return bmp.Encode(b, src) },
		"a.tiff": func(b *bytes.Buffer) error { return tiff.Encode(b, src, nil) },
	}
	for name, f := range enc {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b.Bytes(), 0o644)
		img, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds() != image.Rect(0, 0, 9, 7) {
			t.Errorf("%s: bounds %v", name, img.Bounds())
		}
		if name == "a.png" || name == "a.bmp" || name == "a.tiff" { // lossless
			r, g, b, _ := img.At(4, 3).RGBA()
			if r>>8 != 40 || g>>8 != 60 || b>>8 != 100 {
				t.Errorf("%s: pixel (4,3) = %d %d %d", name, r>>8, g>>8, b>>8)
			}
		}
	}
}

// TestDecodeStream checks that Decode needs no seekable reader: the header
// bytes are replayed to the decoder, also when the reader returns one byte
// at a time.
func TestDecodeStream(t *testing.T) {
	var b bytes.Buffer
	png.Encode(&b, testenv.Gradient(33, 17))
	img, err := Decode(iotest.OneByteReader(bytes.NewReader(b.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 33, 17) {
		t.Errorf("bounds %v", img.Bounds())
	}
	if r, g, _, _ := img.At(3, 2).RGBA(); r>>8 != 30 || g>>8 != 40 {
		t.Errorf("pixel (3,2) = %d %d", r>>8, g>>8)
	}
	if _, err := DecodeBytes(pngHeader(100000, 100000)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge stream: %v", err)
	}
	small := Decoder{MaxPixels: 100}
	if _, err := small.Decode(bytes.NewReader(b.Bytes())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit 100 px: %v", err)
	}
	if cfg, err := small.DecodeConfig(bytes.NewReader(b.Bytes())); !errors.Is(err, ErrTooLarge) || cfg.Width != 33 {
		t.Errorf("DecodeConfig over the limit: %v %v", cfg, err)
	}
	var fe *FormatError
	if _, err := DecodeBytes([]byte("GIF89a-but-no")); !errors.As(err, &fe) || fe.Path != "" {
		t.Errorf("garbage: %v", err)
	}
}

package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProcedural(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g.png")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-o", out, "-n", "2", "-tile", "64"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := image.Pt(margin+labelW+2*(2*64+2)+cellGap+margin, titleH+4*(64+captH+margin)+margin)
	if img.Bounds().Size() != want {
		t.Errorf("gallery %v, want %v", img.Bounds().Size(), want)
	}
}

// chunk is one PNG chunk with its CRC.
func chunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(filepath.Join(empty, "train", "good"), 0o755)
	// A PNG header declaring 10000 x 10000 pixels (100 Mpx): refused from
	// the header, before any pixel memory.
	huge := filepath.Join(dir, "huge")
	os.MkdirAll(filepath.Join(huge, "train", "good"), 0o755)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 10000)
	binary.BigEndian.PutUint32(ihdr[4:], 10000)
	ihdr[8], ihdr[9] = 8, 2
	png := append([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr)...)
	png = append(png, chunk("IEND", nil)...)
	os.WriteFile(filepath.Join(huge, "train", "good", "000.png"), png, 0o644)
	out := filepath.Join(dir, "g.png")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "-n 0"},
		{[]string{"-tile", "8"}, "-tile 8"},
		{[]string{"-data", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"-data", empty}, "no .png or .jpg images"},
		{[]string{"-data", huge, "-o", out}, "more than 67108864 pixels"},
		{[]string{"-textures", empty}, "no .png or .jpg images"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

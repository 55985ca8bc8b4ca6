package pni

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/x/pni/backbone"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// The model file: magic, format version, payload length, payload, CRC-32C of
// the payload; all integers little-endian.
const (
	fileMagic = "PNIMODEL"
	// FileVersion is the model-file format this package writes and reads.
	FileVersion = 1
)

// FormatError reports a model file that is not a pni model, is damaged, or
// was written by an incompatible version.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "pni: bad model file: " + e.Reason }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the model, backbone included, to w in the versioned,
// checksummed model-file format.
func (m *Model) Save(w io.Writer) error {
	if m == nil || m.bb == nil {
		return ErrNotFitted
	}
	var e enc
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return fmt.Errorf("pni: Save: %w", err)
	}
	e.bytes(cfg)
	e.bytes(m.backboneBytes)
	e.ints(m.gridH, m.gridW, m.dim, m.nDist)
	e.f32s(m.emb)
	e.i32s(m.distOf)
	e.bool(m.pos != nil)
	if h := m.pos; h != nil {
		e.ints(h.H, h.W, h.K, h.Radius)
		e.i32s(h.Off)
		e.i32s(h.Idx)
		e.f32s(h.P)
	}
	e.bool(m.nb != nil)
	if nb := m.nb; nb != nil {
		r := nb.Reducer
		e.ints(r.D, r.R, nb.Window, nb.Classes, len(nb.Layers))
		e.f32s(r.Mean)
		e.f32s(r.W)
		e.f32s([]float32{nb.Temperature})
		e.f32s(nb.InMean)
		e.f32s(nb.InScale)
		for _, l := range nb.Layers {
			e.ints(l.In, l.Out)
			e.f32s(l.W)
			e.f32s(l.B)
		}
	}
	var head [20]byte
	copy(head[:8], fileMagic)
	binary.LittleEndian.PutUint32(head[8:], FileVersion)
	binary.LittleEndian.PutUint64(head[12:], uint64(e.buf.Len()))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc32.Checksum(e.buf.Bytes(), castagnoli))
	for _, b := range [][]byte{head[:], e.buf.Bytes(), tail[:]} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("pni: Save: %w", err)
		}
	}
	return nil
}

// SaveFile writes the model to path, through a temporary file renamed into
// place so that a failed save never leaves a half-written model behind.
func (m *Model) SaveFile(path string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("pni: SaveFile: %w", err)
	}
	if err := m.Save(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pni: SaveFile: %w", err)
	}
	return os.Rename(tmp, path)
}

// LoadFile reads a model written by SaveFile or Save.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pni: LoadFile: %w", err)
	}
	m, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// Load reads a model written by Save from r.
func Load(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pni: Load: %w", err)
	}
	return Unmarshal(data)
}

// Unmarshal decodes a model file's bytes. A file that is not a pni model, is
// truncated or damaged (checksum mismatch) or comes from another format version
// is a *FormatError.
func Unmarshal(data []byte) (*Model, error) {
	if len(data) < 24 || string(data[:8]) != fileMagic {
		return nil, &FormatError{"not a pni model file (missing the PNIMODEL header)"}
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != FileVersion {
		return nil, &FormatError{fmt.Sprintf("format version %d, this library reads version %d: refit the model or use the pni release that wrote it", v, FileVersion)}
	}
	n := binary.LittleEndian.Uint64(data[12:])
	if n != uint64(len(data)-24) {
		return nil, &FormatError{fmt.Sprintf("file is %d bytes, header says %d: truncated or padded", len(data), n+24)}
	}
	payload := data[20 : 20+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[20+n:]) {
		return nil, &FormatError{"checksum mismatch: the file is damaged"}
	}
	m, err := decodePayload(&dec{b: payload})
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FormatError{err.Error()}
	}
	return m, nil
}

func decodePayload(d *dec) (*Model, error) {
	m := &Model{}
	if err := json.Unmarshal(d.bytes(), &m.cfg); d.err == nil && err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	m.backboneBytes = d.bytes()
	m.gridH, m.gridW, m.dim, m.nDist = d.int(), d.int(), d.int(), d.int()
	m.emb = d.f32s()
	m.distOf = d.i32s()
	if d.bool() {
		h := &position.Hist{H: d.int(), W: d.int(), K: d.int(), Radius: d.int()}
		h.Off, h.Idx, h.P = d.i32s(), d.i32s(), d.f32s()
		m.pos = h
	}
	if d.bool() {
		r := &neighborhood.Reducer{D: d.int(), R: d.int()}
		nb := &neighborhood.Model{Reducer: r, Window: d.int(), Classes: d.int()}
		layers := d.int()
		r.Mean, r.W = d.f32s(), d.f32s()
		if t := d.f32s(); len(t) == 1 {
			nb.Temperature = t[0]
		} else if d.err == nil {
			d.err = errors.New("neighbourhood temperature missing")
		}
		nb.InMean, nb.InScale = d.f32s(), d.f32s()
		for i := 0; i < layers && d.err == nil; i++ {
			l := neighborhood.Dense{In: d.int(), Out: d.int()}
			l.W, l.B = d.f32s(), d.f32s()
			nb.Layers = append(nb.Layers, l)
		}
		m.nb = nb
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d unread bytes after the model", len(d.b))
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	bb, err := backbone.LoadBytes(m.backboneBytes, nil)
	if err != nil {
		return nil, fmt.Errorf("embedded backbone: %v", err)
	}
	m.bb = bb
	if err := m.derive(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate checks that the decoded arrays agree with each other, so that a
// crafted file cannot make Score index out of range.
func (m *Model) validate() error {
	c := m.cfg
	if m.gridH <= 0 || m.gridW <= 0 || m.dim <= 0 || m.gridH*m.gridW > 1<<22 {
		return fmt.Errorf("bad grid %dx%dx%d", m.gridH, m.gridW, m.dim)
	}
	if c.ResizeW <= 0 || c.ResizeH <= 0 || c.CropW < 0 || c.CropH < 0 || c.CropW > c.ResizeW || c.CropH > c.ResizeH ||
		c.ResizeW > 4096 || c.ResizeH > 4096 || !(c.TauScale > 0) || c.Sigma < 0 || c.Sigma > 64 {
		return fmt.Errorf("bad settings %+v", c)
	}
	k := len(m.distOf)
	if k == 0 || len(m.emb) != k*m.dim || m.nDist <= 0 || m.nDist > k {
		return fmt.Errorf("coreset sizes disagree (|C_emb| %d, |C_dist| %d, %d values)", k, m.nDist, len(m.emb))
	}
	for _, v := range m.distOf {
		if v < 0 || int(v) >= m.nDist {
			return errors.New("coreset mapping out of range")
		}
	}
	if h := m.pos; h != nil {
		if h.H != m.gridH || h.W != m.gridW || h.K != k || len(h.Off) != h.H*h.W+1 || len(h.Idx) != len(h.P) || h.Off[0] != 0 || int(h.Off[len(h.Off)-1]) != len(h.Idx) {
			return errors.New("position histogram does not match the model")
		}
		for i := 1; i < len(h.Off); i++ {
			if h.Off[i] < h.Off[i-1] {
				return errors.New("position histogram offsets decrease")
			}
		}
		for _, c := range h.Idx {
			if c < 0 || int(c) >= k {
				return errors.New("position histogram index out of range")
			}
		}
	}
	if nb := m.nb; nb != nil {
		r := nb.Reducer
		if r.D != m.dim || r.R <= 0 || len(r.W) != r.D*r.R || (r.Mean != nil && len(r.Mean) != r.D) ||
			nb.Classes != m.nDist || nb.Window < 3 || nb.Window%2 == 0 || len(nb.Layers) == 0 || !(nb.Temperature > 0) ||
			len(nb.InMean) != len(nb.InScale) || (nb.InMean != nil && len(nb.InMean) != r.R) {
			return errors.New("neighbourhood model does not match the model")
		}
		in := (nb.Window*nb.Window - 1) * r.R
		for _, l := range nb.Layers {
			if l.In != in || l.Out <= 0 || len(l.W) != l.In*l.Out || len(l.B) != l.Out {
				return errors.New("neighbourhood layer shapes disagree")
			}
			in = l.Out
		}
		if in != nb.Classes {
			return errors.New("neighbourhood output size is not |C_dist|")
		}
	}
	return nil
}

type enc struct{ buf bytes.Buffer }

func (e *enc) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	e.buf.Write(b[:])
}
func (e *enc) ints(vs ...int) {
	for _, v := range vs {
		e.u64(uint64(int64(v)))
	}
}
func (e *enc) bool(v bool) {
	if v {
		e.buf.WriteByte(1)
	} else {
		e.buf.WriteByte(0)
	}
}
func (e *enc) bytes(b []byte) { e.u64(uint64(len(b))); e.buf.Write(b) }
func (e *enc) f32s(v []float32) {
	e.u64(uint64(len(v)))
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		e.buf.Write(b[:])
	}
}
func (e *enc) i32s(v []int32) {
	e.u64(uint64(len(v)))
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], uint32(x))
		e.buf.Write(b[:])
	}
}

// dec reads what enc wrote; the first overrun sets err and later reads return zeros.
type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("truncated payload")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
func (d *dec) int() int {
	v := int64(d.u64())
	if v < 0 || v > 1<<40 {
		if d.err == nil {
			d.err = fmt.Errorf("size %d out of range", v)
		}
		return 0
	}
	return int(v)
}
func (d *dec) bool() bool {
	b := d.take(1)
	return b != nil && b[0] == 1
}
func (d *dec) bytes() []byte {
	n := d.u64()
	return bytes.Clone(d.take(n))
}
func (d *dec) f32s() []float32 { return decodeSlice(d, math.Float32frombits) }
func (d *dec) i32s() []int32 {
	return decodeSlice(d, func(u uint32) int32 { return int32(u) })
}

// decodeSlice reads a length-prefixed slice of 4-byte little-endian values.
func decodeSlice[T any](d *dec, conv func(uint32) T) []T {
	n := d.u64()
	if n == 0 {
		return nil
	}
	if n > uint64(len(d.b))/4 {
		if d.err == nil {
			d.err = errors.New("truncated payload")
		}
		return nil
	}
	b := d.take(n * 4)
	if b == nil {
		return nil
	}
	v := make([]T, n)
	for i := range v {
		v[i] = conv(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

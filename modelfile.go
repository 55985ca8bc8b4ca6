package pni

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/x/pni/backbone"
	"github.com/x/pni/internal/binenc"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// The model file:
//
//	magic "PNIMODEL" | format version u32 | body length u64 | body | CRC-32C of the body u32
//
// (integers little-endian). The body is a sequence of named sections, each
//
//	name (length-prefixed) | description (length-prefixed) | optional (one byte) | payload (length-prefixed)
//
// written by the component that owns it (its MarshalBinary). A reader that
// meets a section it does not know refuses the file with an
// *UnsupportedError naming the section and its description, unless the
// section is marked optional (then it is skipped). A new component
// (calibration, a refinement net, another backbone) is one more section.
const (
	fileMagic = "PNIMODEL"
	// FileVersion is the model-file format this package writes and reads.
	// Version 1 (a single unnamed payload) is refused with a *FormatError.
	FileVersion = 2
)

const (
	headerLen       = 20 // magic, version, body length
	sectionOptional = 1 << 0
)

// section is one named part of a model file.
type section struct {
	name, description string
	optional          bool
	payload           []byte
}

// The sections this version writes and reads, in file order.
const (
	secConfig       = "config"
	secBackbone     = "backbone"
	secBank         = "bank"
	secPosition     = "position"
	secNeighborhood = "neighborhood"
	secCalibration  = "calibration"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sections returns the model's sections.
func (m *Model) sections() ([]section, error) {
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, err
	}
	bank, err := m.bank.MarshalBinary()
	if err != nil {
		return nil, err
	}
	secs := []section{
		{name: secConfig, description: "settings (JSON)", payload: cfg},
		{name: secBackbone, description: "the backbone network (ONNX)", payload: m.backboneBytes},
		{name: secBank, description: "the memory bank C_emb, C_dist", payload: bank},
	}
	if m.pos != nil {
		b, err := m.pos.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: secPosition, description: "position histograms p(c|x)", payload: b})
	}
	if m.nb != nil {
		b, err := m.nb.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: secNeighborhood, description: "neighbourhood MLP p(c|N(x))", payload: b})
	}
	if c := m.cal.Load(); c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: secCalibration, description: "thresholds and how good parts score (JSON)", payload: b})
	}
	return secs, nil
}

// Save writes the model, backbone included, to w in the versioned,
// checksummed model-file format.
func (m *Model) Save(w io.Writer) error {
	if m == nil || m.bb == nil {
		return ErrNotFitted
	}
	secs, err := m.sections()
	if err != nil {
		return fmt.Errorf("pni: Save: %w", err)
	}
	var body binenc.Writer
	for _, s := range secs {
		body.String(s.name)
		body.String(s.description)
		body.Bool(s.optional)
		body.Blob(s.payload)
	}
	var head [headerLen]byte
	copy(head[:8], fileMagic)
	binary.LittleEndian.PutUint32(head[8:], FileVersion)
	binary.LittleEndian.PutUint64(head[12:], uint64(len(body.Bytes())))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc32.Checksum(body.Bytes(), castagnoli))
	for _, b := range [][]byte{head[:], body.Bytes(), tail[:]} {
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
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe):
		fe.Path = path
	case errors.As(err, &ue):
		ue.Path = path
	}
	return m, err
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
// truncated or damaged (checksum mismatch) or comes from another format
// version is a *FormatError; one with a section this version does not know
// is an *UnsupportedError.
func Unmarshal(data []byte) (*Model, error) {
	if len(data) < headerLen+4 || string(data[:8]) != fileMagic {
		return nil, &FormatError{Msg: "not a pni model file (missing the PNIMODEL header)"}
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != FileVersion {
		return nil, &FormatError{Msg: fmt.Sprintf("format version %d, this version of pni reads version %d: refit the model with this version, or load it with the pni release that wrote it", v, FileVersion)}
	}
	n := binary.LittleEndian.Uint64(data[12:])
	if n != uint64(len(data)-headerLen-4) {
		return nil, &FormatError{Msg: fmt.Sprintf("file is %d bytes, header says %d: truncated or padded", len(data), n+headerLen+4)}
	}
	body := data[headerLen : headerLen+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[headerLen+n:]) {
		return nil, &FormatError{Msg: "checksum mismatch: the file is damaged"}
	}
	secs, err := readSections(body)
	if err != nil {
		return nil, err
	}
	return decodeSections(secs)
}

// readSections splits a body into its sections.
func readSections(body []byte) ([]section, error) {
	r := binenc.NewReader(body)
	var secs []section
	for r.Len() > 0 && r.Err() == nil {
		s := section{name: r.String(), description: r.String(), optional: r.Bool()}
		s.payload = r.Blob()
		secs = append(secs, s)
	}
	if err := r.Done(); err != nil {
		return nil, &FormatError{Msg: "section table", Err: err}
	}
	return secs, nil
}

// decodeSections builds a model from its sections: each known section is
// decoded (and validated) by its component, then the parts are checked
// against each other.
func decodeSections(secs []section) (*Model, error) {
	m := &Model{}
	seen := map[string]bool{}
	bad := func(name string, err error) error {
		return &FormatError{Msg: fmt.Sprintf("section %q", name), Err: err}
	}
	for _, s := range secs {
		if seen[s.name] {
			return nil, &FormatError{Msg: fmt.Sprintf("section %q appears twice", s.name)}
		}
		seen[s.name] = true
		switch s.name {
		case secConfig:
			if err := json.Unmarshal(s.payload, &m.cfg); err != nil {
				return nil, bad(s.name, err)
			}
			if err := m.cfg.validate(); err != nil {
				return nil, bad(s.name, err)
			}
		case secBackbone:
			m.backboneBytes = s.payload
		case secBank:
			m.bank = &bank{}
			if err := m.bank.UnmarshalBinary(s.payload); err != nil {
				return nil, bad(s.name, err)
			}
		case secPosition:
			m.pos = &position.Hist{}
			if err := m.pos.UnmarshalBinary(s.payload); err != nil {
				return nil, bad(s.name, err)
			}
		case secNeighborhood:
			m.nb = &neighborhood.Model{}
			if err := m.nb.UnmarshalBinary(s.payload); err != nil {
				return nil, bad(s.name, err)
			}
		case secCalibration:
			c := &calibration{}
			if err := json.Unmarshal(s.payload, c); err != nil {
				return nil, bad(s.name, err)
			}
			if err := c.derive(); err != nil {
				return nil, bad(s.name, err)
			}
			m.cal.Store(c)
		default:
			if s.optional {
				continue
			}
			return nil, &UnsupportedError{Section: s.name, Description: s.description}
		}
	}
	for _, name := range []string{secConfig, secBackbone, secBank} {
		if !seen[name] {
			return nil, &FormatError{Msg: fmt.Sprintf("the %q section is missing", name)}
		}
	}
	if err := m.checkParts(); err != nil {
		return nil, &FormatError{Msg: "the parts do not fit together", Err: err}
	}
	bb, err := backbone.LoadBytes(m.backboneBytes, nil)
	if err != nil {
		return nil, &FormatError{Msg: "embedded backbone", Err: err}
	}
	m.bb = bb
	return m, nil
}

// checkParts checks that the decoded components agree with each other and
// with the settings, so that a crafted file cannot make Score index out of
// range.
func (m *Model) checkParts() error {
	c, k := m.cfg, m.bank.size()
	if h := m.pos; h != nil && (h.H != c.GridH || h.W != c.GridW || h.K != k) {
		return fmt.Errorf("position histogram is %dx%d over %d elements, the model has a %dx%d grid and %d", h.W, h.H, h.K, c.GridW, c.GridH, k)
	}
	if nb := m.nb; nb != nil && (nb.Classes() != m.bank.nDist || nb.FeatureDim() != m.bank.dim) {
		return fmt.Errorf("neighbourhood model has %d classes over %d-dim features, the bank has |C_dist| = %d and %d dims",
			nb.Classes(), nb.FeatureDim(), m.bank.nDist, m.bank.dim)
	}
	return nil
}

package pni

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"

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
// written by the component that owns it (its MarshalBinary). The model's
// sections are "config" and "calibration"; each member i has
// "member.i.config", ".backbone", ".bank", ".position", ".neighborhood"
// and, in an ensemble, ".standardisation". A reader that meets a section it
// does not know refuses the file with an *UnsupportedError naming the
// section and its description, unless the section is marked optional (then
// it is skipped). A new component (a refinement net, say) is one more
// section.
const (
	fileMagic = "PNIMODEL"
	// FileVersion is the model-file format this package writes and reads.
	// Versions 1 (one unnamed payload) and 2 (one member, no calibration)
	// are refused with a *FormatError.
	FileVersion = 3
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

// The sections this version writes and reads. Member sections are named
// "member.<i>.<part>".
const (
	secConfig       = "config"
	secCalibration  = "calibration"
	secRefine       = "refine"
	secMember       = "member."
	partConfig      = "config"
	partBackbone    = "backbone"
	partBank        = "bank"
	partPosition    = "position"
	partNeighbor    = "neighborhood"
	partStandardise = "standardisation"
)

// maxMembers bounds the members a file may declare.
const maxMembers = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sections returns the model's sections.
func (m *Model) sections() ([]section, error) {
	cfg, err := json.Marshal(m.cfg)
	if err != nil {
		return nil, err
	}
	secs := []section{{name: secConfig, description: "settings (JSON)", payload: cfg}}
	for i, mb := range m.members {
		ms, err := mb.sections(fmt.Sprintf("%s%d.", secMember, i))
		if err != nil {
			return nil, err
		}
		secs = append(secs, ms...)
	}
	if c := m.cal.Load(); c != nil {
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: secCalibration, description: "thresholds and how good parts score (JSON)", payload: b})
	}
	if rf := m.refine.Load(); rf != nil {
		b, err := rf.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: secRefine, description: "a pixel-wise refinement net (ONNX)", payload: b})
	}
	return secs, nil
}

// sections returns a member's sections, named prefix+part.
func (mb *member) sections(prefix string) ([]section, error) {
	cfg, err := json.Marshal(mb.cfg)
	if err != nil {
		return nil, err
	}
	bank, err := mb.bank.MarshalBinary()
	if err != nil {
		return nil, err
	}
	secs := []section{
		{name: prefix + partConfig, description: "member settings (JSON)", payload: cfg},
		{name: prefix + partBackbone, description: "the backbone network (ONNX)", payload: mb.backboneBytes},
		{name: prefix + partBank, description: "the memory bank C_emb, C_dist", payload: bank},
	}
	if mb.pos != nil {
		b, err := mb.pos.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: prefix + partPosition, description: "position histograms p(c|x)", payload: b})
	}
	if mb.nb != nil {
		b, err := mb.nb.MarshalBinary()
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: prefix + partNeighbor, description: "neighbourhood MLP p(c|N(x))", payload: b})
	}
	if mb.stdz != nil {
		b, err := json.Marshal(mb.stdz)
		if err != nil {
			return nil, err
		}
		secs = append(secs, section{name: prefix + partStandardise, description: "how the member's good parts score (JSON)", payload: b})
	}
	return secs, nil
}

// Save writes the model, backbone included, to w in the versioned,
// checksummed model-file format.
func (m *Model) Save(w io.Writer) error {
	if m == nil || len(m.members) == 0 {
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
	var members []*member
	memberOf := func(name string) (*member, string, bool) {
		rest, ok := strings.CutPrefix(name, secMember)
		if !ok {
			return nil, "", false
		}
		idx, part, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= maxMembers || strconv.Itoa(i) != idx {
			return nil, "", false
		}
		for len(members) <= i {
			members = append(members, nil)
		}
		if members[i] == nil {
			members[i] = &member{}
		}
		return members[i], part, true
	}
	for _, s := range secs {
		if seen[s.name] {
			return nil, &FormatError{Msg: fmt.Sprintf("section %q appears twice", s.name)}
		}
		seen[s.name] = true
		if mb, part, ok := memberOf(s.name); ok {
			if err := mb.decodePart(part, s.payload); err != nil {
				if errors.Is(err, errUnknownPart) {
					if s.optional {
						continue
					}
					return nil, &UnsupportedError{Section: s.name, Description: s.description}
				}
				return nil, bad(s.name, err)
			}
			continue
		}
		switch s.name {
		case secConfig:
			if err := json.Unmarshal(s.payload, &m.cfg); err != nil {
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
		case secRefine:
			rf := &refiner{}
			if err := rf.UnmarshalBinary(s.payload); err != nil {
				return nil, bad(s.name, err)
			}
			m.refine.Store(rf)
		default:
			if s.optional {
				continue
			}
			return nil, &UnsupportedError{Section: s.name, Description: s.description}
		}
	}
	if !seen[secConfig] {
		return nil, &FormatError{Msg: fmt.Sprintf("the %q section is missing", secConfig)}
	}
	if t := m.cfg.Tiles; t.Size < 0 || t.Overlap < 0 || (t.on() && (t.Size < 32 || t.Overlap >= t.Size/2 || len(members) != 1)) {
		return nil, &FormatError{Msg: fmt.Sprintf("bad tiling %+v for %d members", t, len(members))}
	}
	if m.cfg.Members != len(members) || len(members) == 0 {
		return nil, &FormatError{Msg: fmt.Sprintf("the settings declare %d members, the file holds %d", m.cfg.Members, len(members))}
	}
	for i, mb := range members {
		prefix := fmt.Sprintf("%s%d.", secMember, i)
		if mb == nil {
			return nil, &FormatError{Msg: fmt.Sprintf("member %d is missing", i)}
		}
		for _, part := range []string{partConfig, partBackbone, partBank} {
			if !seen[prefix+part] {
				return nil, &FormatError{Msg: fmt.Sprintf("the %q section is missing", prefix+part)}
			}
		}
		if (mb.stdz != nil) != (len(members) > 1) {
			return nil, &FormatError{Msg: fmt.Sprintf("member %d: an ensemble's members (and only they) carry standardisation statistics", i)}
		}
		if mb.bank.dim != mb.cfg.Dim {
			return nil, &FormatError{Msg: fmt.Sprintf("member %d: a %d-dim bank for %d-dim features", i, mb.bank.dim, mb.cfg.Dim)}
		}
		if err := mb.checkParts(); err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("member %d: the parts do not fit together", i), Err: err}
		}
		bb, err := backbone.LoadBytes(mb.backboneBytes, &backbone.Options{Dim: backboneDim(mb.cfg.Dim)})
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("member %d: embedded backbone", i), Err: err}
		}
		mb.bb = bb
	}
	if m.refine.Load() != nil && m.cal.Load() == nil {
		return nil, &FormatError{Msg: "a refinement net without a calibration"}
	}
	if c := m.cal.Load(); c != nil && c.Linear != (len(members) > 1) {
		return nil, &FormatError{Msg: "the calibration does not match the number of members"}
	}
	m.members = members
	m.ref = pickRef(members)
	return m, nil
}

// errUnknownPart is decodePart's error for a member section it does not know.
var errUnknownPart = errors.New("unknown member section")

// decodePart decodes one member section.
func (mb *member) decodePart(part string, payload []byte) error {
	switch part {
	case partConfig:
		if err := json.Unmarshal(payload, &mb.cfg); err != nil {
			return err
		}
		return mb.cfg.validate()
	case partBackbone:
		mb.backboneBytes = payload
	case partBank:
		mb.bank = &bank{}
		return mb.bank.UnmarshalBinary(payload)
	case partPosition:
		mb.pos = &position.Hist{}
		return mb.pos.UnmarshalBinary(payload)
	case partNeighbor:
		mb.nb = &neighborhood.Model{}
		return mb.nb.UnmarshalBinary(payload)
	case partStandardise:
		mb.stdz = &calibration{}
		if err := json.Unmarshal(payload, mb.stdz); err != nil {
			return err
		}
		return mb.stdz.derive()
	default:
		return errUnknownPart
	}
	return nil
}

// backboneDim is backbone.Options.Dim for a model's D: 0 (the default) when D
// is the default. The backbone accepts the default D for layers of any width,
// as PatchCore does, but an explicit D only up to 9*(C2+C3); a file records
// the resolved D, so without this a model fitted at the default on a narrow
// backbone would fit but not load, and WithEmbedDim(DefaultDim) would differ
// from leaving D unset.
func backboneDim(d int) int {
	if d == backbone.DefaultDim {
		return 0
	}
	return d
}

package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Writer writes an election record in the 0.95 layout under a directory: the public
// record in <dir> and, for WritePrivateGuardian, <private>/private_guardians. Files are
// indented JSON like the 0.95 sample records; each is written whole, then renamed into place.
type Writer struct {
	dir, private string
}

// NewWriter writes the public record to dir and private guardian records to private
// (which should not be published with the record).
func NewWriter(dir, private string) *Writer { return &Writer{dir: dir, private: private} }

// Marshal encodes v as the record files do: two-space indent, no HTML escaping.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileID checks that an id can name a file: it must not be empty or reach outside its folder.
func fileID(id string) (string, error) {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, `/\`+"\x00") {
		return "", fmt.Errorf("id %q cannot name a record file", id)
	}
	return id, nil
}

func writeJSON(dir, sub, name string, v any, perm os.FileMode) error {
	folder := filepath.Join(dir, sub)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	data, err := Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(folder, ".tmp-*")
	if err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(folder, name))
}

func (w *Writer) writeIn(sub, prefix, id string, v any) error {
	id, err := fileID(id)
	if err != nil {
		return err
	}
	return writeJSON(w.dir, sub, prefix+id+".json", v, 0o644)
}

// WriteConstants writes constants.json.
func (w *Writer) WriteConstants(c *Constants) error {
	return writeJSON(w.dir, "", ConstantsFile, c, 0o644)
}

// WriteContext writes context.json.
func (w *Writer) WriteContext(c *Context) error { return writeJSON(w.dir, "", ContextFile, c, 0o644) }

// WriteManifest writes manifest.json.
func (w *Writer) WriteManifest(m *Manifest) error {
	return writeJSON(w.dir, "", ManifestFile, m, 0o644)
}

// WriteEncryptedTally writes encrypted_tally.json.
func (w *Writer) WriteEncryptedTally(t *CiphertextTally) error {
	return writeJSON(w.dir, "", EncryptedTallyFile, t, 0o644)
}

// WriteTally writes tally.json.
func (w *Writer) WriteTally(t *PlaintextTally) error {
	return writeJSON(w.dir, "", TallyFile, t, 0o644)
}

// WriteCoefficients writes coefficients.json.
func (w *Writer) WriteCoefficients(c *LagrangeCoefficients) error {
	return writeJSON(w.dir, "", CoefficientsFile, c, 0o644)
}

// WriteGuardian writes guardians/guardian_<id>.json.
func (w *Writer) WriteGuardian(g *GuardianRecord) error {
	return w.writeIn(GuardiansDir, "guardian_", g.GuardianID, g)
}

// WriteDevice writes encryption_devices/device_<device id>.json.
func (w *Writer) WriteDevice(d *EncryptionDevice) error {
	return w.writeIn(EncryptionDevicesDir, "device_", strconv.FormatInt(d.DeviceID, 10), d)
}

// WriteSubmittedBallot writes submitted_ballots/submitted_ballot_<id>.json.
func (w *Writer) WriteSubmittedBallot(b *SubmittedBallot) error {
	return w.writeIn(SubmittedBallotsDir, "submitted_ballot_", b.ObjectID, b)
}

// WriteSpoiledBallot writes spoiled_ballots/spoiled_ballot_<id>.json (a decrypted spoiled ballot).
func (w *Writer) WriteSpoiledBallot(t *PlaintextTally) error {
	return w.writeIn(SpoiledBallotsDir, "spoiled_ballot_", t.ObjectID, t)
}

// WritePrivateGuardian writes <private>/private_guardians/private_guardian_<id>.json,
// readable only by its owner (mode 0600).
func (w *Writer) WritePrivateGuardian(g *PrivateGuardian) error {
	id, err := fileID(g.GuardianID)
	if err != nil {
		return err
	}
	return writeJSON(w.private, PrivateGuardiansDir, "private_guardian_"+id+".json", g, 0o600)
}

// WriteNDJSON writes v as one line of NDJSON (compact JSON and a newline), the form
// DecodeBallots and DecodeNDJSON read.
func WriteNDJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

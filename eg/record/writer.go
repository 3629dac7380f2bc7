package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Writer writes an election record in the 0.95 layout under a directory: the public
// record in <dir> and, for WritePrivateGuardian, <private>/private_guardians. Files are
// indented JSON like the 0.95 sample records; each is written whole, then renamed into place.
type Writer struct {
	dir, private string
	put          func(name string, data []byte) error
}

// NewWriter writes the public record to dir and private guardian records to private
// (which should not be published with the record).
func NewWriter(dir, private string) *Writer { return &Writer{dir: dir, private: private} }

// NewStreamWriter returns a Writer that hands each file of the public record, as its
// slash-separated path in the layout and its content, to put (to write an archive, say).
// It refuses to write private guardian records.
func NewStreamWriter(put func(name string, data []byte) error) *Writer { return &Writer{put: put} }

// InvalidBallotsDir is where tallyq's exports put the ballots its tally found invalid,
// in the submitted-ballot format, apart from submitted_ballots/ so that the product of
// the cast ballots there is the encrypted tally; InvalidBallotsFile lists why each was
// refused.
const (
	InvalidBallotsDir  = "invalid_ballots"
	InvalidBallotsFile = "invalid_ballots.json"
)

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

// write writes one file of the public record (or, private, of the private data).
func (w *Writer) write(private bool, sub, name string, v any, perm os.FileMode) error {
	data, err := Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if w.put != nil {
		if private {
			return fmt.Errorf("write %s: a stream writer writes only the public record", name)
		}
		return w.put(path.Join(sub, name), data)
	}
	dir := w.dir
	if private {
		dir = w.private
	}
	return writeFile(filepath.Join(dir, sub), name, data, perm)
}

func writeFile(folder, name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
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
	return w.write(false, sub, prefix+id+".json", v, 0o644)
}

// WriteConstants writes constants.json.
func (w *Writer) WriteConstants(c *Constants) error {
	return w.write(false, "", ConstantsFile, c, 0o644)
}

// WriteContext writes context.json.
func (w *Writer) WriteContext(c *Context) error { return w.write(false, "", ContextFile, c, 0o644) }

// WriteManifest writes manifest.json.
func (w *Writer) WriteManifest(m *Manifest) error {
	return w.write(false, "", ManifestFile, m, 0o644)
}

// WriteEncryptedTally writes encrypted_tally.json.
func (w *Writer) WriteEncryptedTally(t *CiphertextTally) error {
	return w.write(false, "", EncryptedTallyFile, t, 0o644)
}

// WriteTally writes tally.json.
func (w *Writer) WriteTally(t *PlaintextTally) error {
	return w.write(false, "", TallyFile, t, 0o644)
}

// WriteCoefficients writes coefficients.json.
func (w *Writer) WriteCoefficients(c *LagrangeCoefficients) error {
	return w.write(false, "", CoefficientsFile, c, 0o644)
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

// WriteInvalidBallot writes invalid_ballots/invalid_ballot_<id>.json.
func (w *Writer) WriteInvalidBallot(b *SubmittedBallot) error {
	return w.writeIn(InvalidBallotsDir, "invalid_ballot_", b.ObjectID, b)
}

// WriteDocument writes any other document at the top of the record, such as
// InvalidBallotsFile.
func (w *Writer) WriteDocument(name string, v any) error {
	if _, err := fileID(name); err != nil {
		return err
	}
	return w.write(false, "", name, v, 0o644)
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
	return w.write(true, PrivateGuardiansDir, "private_guardian_"+id+".json", g, 0o600)
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

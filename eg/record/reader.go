package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"strings"
)

// MaxDocumentBytes bounds one JSON document the readers accept (a ballot, a tally, a
// guardian record), so a hostile input cannot exhaust memory. The 0.95 sample tally with
// five guardians is about 100 KB per contest; 64 MiB leaves room for large elections.
const MaxDocumentBytes = 64 << 20

// The file and folder names of the 0.95 election record layout.
const (
	ConstantsFile        = "constants.json"
	ContextFile          = "context.json"
	ManifestFile         = "manifest.json"
	EncryptedTallyFile   = "encrypted_tally.json"
	TallyFile            = "tally.json"
	CoefficientsFile     = "coefficients.json"
	GuardiansDir         = "guardians"
	SubmittedBallotsDir  = "submitted_ballots"
	SpoiledBallotsDir    = "spoiled_ballots"
	EncryptionDevicesDir = "encryption_devices"
	PrivateGuardiansDir  = "private_guardians"
)

// Decode parses one JSON document into v, rejecting trailing data and documents larger
// than MaxDocumentBytes.
func Decode(r io.Reader, v any) error {
	data, err := readDocument(r)
	if err != nil {
		return err
	}
	return unmarshal(data, v)
}

// readDocument reads all of r, refusing more than MaxDocumentBytes.
func readDocument(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("document is larger than %d bytes", MaxDocumentBytes)
	}
	return data, nil
}

func unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// Folder reads an election record laid out as the 0.95 sample records are
// (election_record/ of the fixtures). Every method reads its file when called; ballots are
// streamed one at a time.
type Folder struct {
	fsys fs.FS
}

// OpenFolder reads the record in directory dir.
func OpenFolder(dir string) *Folder { return &Folder{fsys: os.DirFS(dir)} }

// NewFolder reads the record in a file system (os.DirFS, an embed.FS, fstest.MapFS).
func NewFolder(fsys fs.FS) *Folder { return &Folder{fsys: fsys} }

func (f *Folder) read(name string, v any) error {
	file, err := f.fsys.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := Decode(file, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Constants reads constants.json.
func (f *Folder) Constants() (*Constants, error) {
	var c Constants
	return &c, f.read(ConstantsFile, &c)
}

// Context reads context.json.
func (f *Folder) Context() (*Context, error) {
	var c Context
	return &c, f.read(ContextFile, &c)
}

// Manifest reads manifest.json.
func (f *Folder) Manifest() (*Manifest, error) {
	var m Manifest
	return &m, f.read(ManifestFile, &m)
}

// EncryptedTally reads encrypted_tally.json.
func (f *Folder) EncryptedTally() (*CiphertextTally, error) {
	var t CiphertextTally
	return &t, f.read(EncryptedTallyFile, &t)
}

// Tally reads tally.json.
func (f *Folder) Tally() (*PlaintextTally, error) {
	var t PlaintextTally
	return &t, f.read(TallyFile, &t)
}

// Coefficients reads coefficients.json.
func (f *Folder) Coefficients() (*LagrangeCoefficients, error) {
	var c LagrangeCoefficients
	return &c, f.read(CoefficientsFile, &c)
}

// Guardians reads every guardians/*.json, ordered by sequence order.
func (f *Folder) Guardians() ([]*GuardianRecord, error) {
	var out []*GuardianRecord
	for g, err := range eachJSON[GuardianRecord](f.fsys, GuardiansDir) {
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	sortBySequence(out, func(g *GuardianRecord) int { return g.SequenceOrder })
	return out, nil
}

// Devices reads every encryption_devices/*.json.
func (f *Folder) Devices() ([]*EncryptionDevice, error) {
	var out []*EncryptionDevice
	for d, err := range eachJSON[EncryptionDevice](f.fsys, EncryptionDevicesDir) {
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SubmittedBallots yields submitted_ballots/*.json one ballot at a time, in directory
// order (not sorted: sorting would need every name in memory). A missing folder yields
// nothing. After an error the caller may continue with the next ballot.
func (f *Folder) SubmittedBallots() iter.Seq2[*SubmittedBallot, error] {
	return eachJSON[SubmittedBallot](f.fsys, SubmittedBallotsDir)
}

// SpoiledBallots yields spoiled_ballots/*.json, the decrypted spoiled ballots, one at a time.
func (f *Folder) SpoiledBallots() iter.Seq2[*PlaintextTally, error] {
	return eachJSON[PlaintextTally](f.fsys, SpoiledBallotsDir)
}

// PrivateGuardians yields the private guardian records of a private-data folder
// (election_private_data/ of the fixtures), ordered by sequence order.
func PrivateGuardians(fsys fs.FS) ([]*PrivateGuardian, error) {
	var out []*PrivateGuardian
	for g, err := range eachJSON[PrivateGuardian](fsys, PrivateGuardiansDir) {
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	sortBySequence(out, func(g *PrivateGuardian) int { return g.ElectionKeys.SequenceOrder })
	return out, nil
}

// dirBatch is how many directory entries are read at a time.
const dirBatch = 128

// eachJSON decodes the *.json files of a folder one at a time.
func eachJSON[T any](fsys fs.FS, dir string) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		d, err := fsys.Open(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			yield(nil, err)
			return
		}
		defer d.Close()
		rd, ok := d.(fs.ReadDirFile)
		if !ok {
			yield(nil, fmt.Errorf("%s is not a directory", dir))
			return
		}
		for {
			entries, err := rd.ReadDir(dirBatch)
			for _, e := range entries {
				if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
					continue
				}
				name := path.Join(dir, e.Name())
				v, err := decodeFile[T](fsys, name)
				if !yield(v, err) {
					return
				}
			}
			if errors.Is(err, io.EOF) || (err == nil && len(entries) == 0) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("list %s: %w", dir, err))
				return
			}
		}
	}
}

func decodeFile[T any](fsys fs.FS, name string) (*T, error) {
	file, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var v T
	if err := Decode(file, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &v, nil
}

// DecodeBallots yields the ballots of an NDJSON stream (one submitted ballot per line;
// blank lines are skipped), one at a time. A line longer than MaxDocumentBytes is an error
// that ends the stream; a line that does not decode is an error naming its line number,
// and the caller may continue with the next line.
func DecodeBallots(r io.Reader) iter.Seq2[*SubmittedBallot, error] {
	return DecodeNDJSON[SubmittedBallot](r)
}

// DecodeNDJSON yields the JSON documents of an NDJSON stream one at a time.
func DecodeNDJSON[T any](r io.Reader) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		err := ScanNDJSON(r, func(line int, data []byte) error {
			var v T
			if derr := unmarshal(data, &v); derr != nil {
				if !yield(nil, fmt.Errorf("line %d: %w", line, derr)) {
					return errStopScan
				}
			} else if !yield(&v, nil) {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			yield(nil, err)
		}
	}
}

var errStopScan = errors.New("scan stopped")

// ScanNDJSON calls fn with every non-blank line of an NDJSON stream and its line number
// (from 1), the line's bytes valid only during the call. It stops at fn's first error,
// which it returns, or at a read error or a line over MaxDocumentBytes, which it returns
// naming the line.
func ScanNDJSON(r io.Reader, fn func(line int, data []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		data, err := readLine(br)
		if len(bytes.TrimSpace(data)) > 0 {
			if ferr := fn(line, data); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// readLine reads one line without its newline, refusing lines over MaxDocumentBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxDocumentBytes {
			return nil, fmt.Errorf("line is longer than %d bytes", MaxDocumentBytes)
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

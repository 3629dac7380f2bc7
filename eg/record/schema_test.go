package record

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tallyq/tallyq/internal/fixtures"
)

// schemaFor maps a written file to the fixtures' schema it must satisfy.
var schemaFor = map[string]string{
	ManifestFile: "manifest",
	ContextFile:  "ciphertext_election_context",
}

func compileSchemas(t *testing.T) map[string]*jsonschema.Schema { return fixtures.Schemas(t) }

// TestWrittenRecordMatchesSchemas is check (g): a whole record written by Writer (a
// generated election: ceremony, ballots, tally, decryption) validates against the
// fixtures' JSON schemas, and reading it back gives what was written.
func TestWrittenRecordMatchesSchemas(t *testing.T) {
	schemas := compileSchemas(t)
	gen := generatedElection(t)
	dir := t.TempDir()
	public, private := filepath.Join(dir, "election_record"), filepath.Join(dir, "election_private_data")
	written := writeGeneratedRecord(t, gen, public, private)

	validateDir(t, schemas, public)
	// The schemas do reject: a manifest without its required name, a context whose
	// extended_data is null (as 1.x writes it; we write {}).
	for file, drop := range map[string]string{ManifestFile: "name", ContextFile: "extended_data"} {
		doc := mustDecode(t, filepath.Join(public, file)).(map[string]any)
		if drop == "extended_data" {
			doc[drop] = nil
		} else {
			delete(doc, drop)
		}
		if err := schemas[schemaFor[file]].Validate(doc); err == nil {
			t.Errorf("%s with %s removed or null passes its schema", file, drop)
		}
	}
	readBack(t, NewFolder(os.DirFS(public)), os.DirFS(private), written)
}

func mustDecode(t *testing.T, path string) any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// validateDir validates every file of a written record folder against its schema.
func validateDir(t *testing.T, _ map[string]*jsonschema.Schema, public string) {
	t.Helper()
	if n := fixtures.ValidateRecord(t, public); n < 10 {
		t.Fatalf("only %d files validated", n)
	}
}

// TestRewrittenFixtureMatchesSchemas: each fixture read and written again by Writer
// validates against the schemas and reads back the same.
func TestRewrittenFixtureMatchesSchemas(t *testing.T) {
	schemas := compileSchemas(t)
	for _, set := range fixtureSets {
		t.Run(set, func(t *testing.T) { rewriteFixture(t, schemas, set) })
	}
}

// rewriteFixture writes every file of one fixture set with Writer, validates the written
// public record against the schemas and reads everything back.
func rewriteFixture(t *testing.T, schemas map[string]*jsonschema.Schema, set string) {
	t.Helper()
	fx := loadFixture(t, set)
	dir := t.TempDir()
	public := filepath.Join(dir, "election_record")
	w := NewWriter(public, filepath.Join(dir, "private"))
	written := writtenRecord{}
	check := func(name string, v any, err error, write func() error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := write(); err != nil {
			t.Fatal(err)
		}
		written[name] = v
	}
	c, err := fx.folder.Constants()
	check(ConstantsFile, c, err, func() error { return w.WriteConstants(c) })
	check(ContextFile, fx.election.Context, nil, func() error { return w.WriteContext(fx.election.Context) })
	check(ManifestFile, fx.election.Manifest, nil, func() error { return w.WriteManifest(fx.election.Manifest) })
	et, err := fx.folder.EncryptedTally()
	check(EncryptedTallyFile, et, err, func() error { return w.WriteEncryptedTally(et) })
	pt, err := fx.folder.Tally()
	check(TallyFile, pt, err, func() error { return w.WriteTally(pt) })
	co, err := fx.folder.Coefficients()
	check(CoefficientsFile, co, err, func() error { return w.WriteCoefficients(co) })
	for _, g := range fx.guardians {
		check("guardian "+g.GuardianID, g, nil, func() error { return w.WriteGuardian(g) })
	}
	ds, err := fx.folder.Devices()
	for _, d := range ds {
		check("device", d, err, func() error { return w.WriteDevice(d) })
	}
	for _, b := range fx.ballots {
		check("ballot "+b.ObjectID, b, nil, func() error { return w.WriteSubmittedBallot(b) })
	}
	for s, err := range fx.folder.SpoiledBallots() {
		check("spoiled "+s.ObjectID, s, err, func() error { return w.WriteSpoiledBallot(s) })
	}
	for _, p := range fx.private {
		check("private "+p.GuardianID, p, nil, func() error { return w.WritePrivateGuardian(p) })
	}
	validateDir(t, schemas, public)
	readBack(t, NewFolder(os.DirFS(public)), os.DirFS(filepath.Join(dir, "private")), written)
}

// writtenRecord is what writeGeneratedRecord wrote, by file.
type writtenRecord map[string]any

func writeGeneratedRecord(t *testing.T, gen *generated, public, private string) writtenRecord {
	t.Helper()
	e := gen.election
	w := NewWriter(public, private)
	out := writtenRecord{}
	write := func(name string, v any, fn func() error) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		out[name] = v
	}
	constants := ConstantsOf(gen.g)
	write(ConstantsFile, constants, func() error { return w.WriteConstants(constants) })
	write(ContextFile, gen.cer.Context, func() error { return w.WriteContext(gen.cer.Context) })
	write(ManifestFile, gen.manifest, func() error { return w.WriteManifest(gen.manifest) })
	for _, r := range gen.cer.Guardians {
		write("guardian "+r.GuardianID, r, func() error { return w.WriteGuardian(r) })
	}
	for _, p := range gen.cer.Private {
		write("private "+p.GuardianID, p, func() error { return w.WritePrivateGuardian(p) })
	}
	device := &EncryptionDevice{DeviceID: 42, SessionID: 7, LaunchCode: 9, Location: "test"}
	write("device", device, func() error { return w.WriteDevice(device) })
	ballots, _, _ := encryptBallots(t, gen, 6, 3)
	tally := e.NewTally()
	for _, b := range ballots {
		write("ballot "+b.ObjectID, b, func() error { return w.WriteSubmittedBallot(b) })
		if err := tally.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	encrypted := tally.Record("election-results")
	write(EncryptedTallyFile, encrypted, func() error { return w.WriteEncryptedTally(encrypted) })
	d, err := e.NewDecryptor(gen.cer.Guardians, uint64(tally.Cast()))
	if err != nil {
		t.Fatal(err)
	}
	available := []string{gen.cer.Private[0].GuardianID, gen.cer.Private[2].GuardianID, gen.cer.Private[3].GuardianID}
	trustees := trusteesFor(t, d, gen.cer.Private, available)
	cts, err := encrypted.Ciphertexts(gen.g)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := d.Decrypt(encrypted.ObjectID, cts, trustees)
	if err != nil {
		t.Fatal(err)
	}
	write(TallyFile, pt, func() error { return w.WriteTally(pt) })
	coeffs, err := d.Coefficients(available)
	if err != nil {
		t.Fatal(err)
	}
	write(CoefficientsFile, coeffs, func() error { return w.WriteCoefficients(coeffs) })
	for _, b := range ballots {
		if b.State != BallotSpoiled {
			continue
		}
		cts, err := b.Ciphertexts(gen.g)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := d.Decrypt(b.ObjectID, cts, trustees)
		if err != nil {
			t.Fatal(err)
		}
		write("spoiled "+sp.ObjectID, sp, func() error { return w.WriteSpoiledBallot(sp) })
	}
	return out
}

// readBack reads the written record with Folder and checks each file decodes to what
// was written (compared by encoding).
func readBack(t *testing.T, f *Folder, private fs.FS, written writtenRecord) {
	t.Helper()
	same := func(name string, got any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		want, ok := written[name]
		if !ok {
			t.Fatalf("read %s, which was not written", name)
		}
		if !bytes.Equal(mustMarshal(t, got), mustMarshal(t, want)) {
			t.Errorf("%s reads back different", name)
		}
		delete(written, name)
	}
	c, err := f.Constants()
	same(ConstantsFile, c, err)
	ctx, err := f.Context()
	same(ContextFile, ctx, err)
	m, err := f.Manifest()
	same(ManifestFile, m, err)
	et, err := f.EncryptedTally()
	same(EncryptedTallyFile, et, err)
	pt, err := f.Tally()
	same(TallyFile, pt, err)
	co, err := f.Coefficients()
	same(CoefficientsFile, co, err)
	gs, err := f.Guardians()
	for _, r := range gs {
		same("guardian "+r.GuardianID, r, err)
	}
	ds, err := f.Devices()
	for _, d := range ds {
		same("device", d, err)
	}
	for b, err := range f.SubmittedBallots() {
		same("ballot "+b.ObjectID, b, err)
	}
	for s, err := range f.SpoiledBallots() {
		same("spoiled "+s.ObjectID, s, err)
	}
	ps, err := PrivateGuardians(private)
	for _, p := range ps {
		same("private "+p.GuardianID, p, err)
	}
	for name := range written {
		t.Errorf("%s was written but not read back", name)
	}
}

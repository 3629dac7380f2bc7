package election

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/seal"
)

// headerFiles is a record folder's files that readDefinition reads, from
// the minimal fixture, by name.
func headerFiles(f *testing.F) fstest.MapFS {
	pub := fixtures.Record(f, "minimal")
	files := fstest.MapFS{}
	for _, pattern := range []string{"constants.json", "manifest.json", "context.json", "guardians/*.json", "encryption_devices/*.json"} {
		names, _ := filepath.Glob(filepath.Join(pub, pattern))
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			rel, _ := filepath.Rel(pub, name)
			files[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		}
	}
	return files
}

// FuzzReadDefinition changes (or removes) one header file of an uploaded
// election record and reads the definition as ImportFolder does, then
// checks it as createTx does: every refusal wraps ErrInvalid (the API's
// 400); a definition accepted there is stored as createTx encodes it and
// read back as loadWith decodes it to the same election.
func FuzzReadDefinition(f *testing.F) {
	files := headerFiles(f)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		data := files[name].Data
		f.Add(uint8(i), data)
		f.Add(uint8(i), bytes.Replace(data, []byte(`"data": "`), []byte(`"data": "1`), 1))
		f.Add(uint8(i), []byte(`{}`))
	}
	f.Add(uint8(0x80), []byte(nil)) // constants.json missing
	s := &Service{groups: map[string]*eg.Group{}}
	// verified remembers VerifyContext's verdicts (55 ms each) by the
	// context and guardians, which most inputs leave as they were.
	verified := map[[sha256.Size]byte]error{}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		changed := fstest.MapFS{}
		for k, v := range files {
			changed[k] = v
		}
		name := names[int(which&0x7f)%len(names)]
		changed[name] = &fstest.MapFile{Data: data}
		if which&0x80 != 0 && len(data) == 0 {
			delete(changed, name)
		}
		def, err := s.readDefinition(record.NewFolder(changed))
		if err != nil {
			if !errors.Is(err, ErrInvalid) || strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("%s changed: %v does not wrap ErrInvalid", name, err)
			}
			return
		}
		if def.Group == nil || def.Manifest == nil || def.Context == nil {
			t.Fatalf("%s changed: an incomplete definition %+v", name, def)
		}
		if _, err := record.NewElection(def.Group, def.Manifest, def.Context); err != nil {
			return // createTx refuses it with ErrInvalid
		}
		contextJSON, _ := json.Marshal(def.Context)
		guardiansJSON, _ := json.Marshal(def.Guardians)
		sum := sha256.Sum256([]byte(def.Group.Name() + "\x00" + string(contextJSON) + "\x00" + string(guardiansJSON)))
		verdict, ok := verified[sum]
		if !ok {
			verdict = record.VerifyContext(def.Group, def.Context, def.Guardians)
			if len(verified) >= 4096 {
				clear(verified)
			}
			verified[sum] = verdict
		}
		if verdict != nil {
			return
		}
		// Stored as createTx encodes it, read back as loadWith decodes it.
		manifest, err1 := json.Marshal(def.Manifest)
		context, err2 := json.Marshal(def.Context)
		guardians, err3 := json.Marshal(def.Guardians)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("%s changed: an accepted definition does not encode: %v", name, err)
		}
		var (
			m  record.Manifest
			c  record.Context
			gs []*record.GuardianRecord
		)
		if err := errors.Join(json.Unmarshal(manifest, &m), json.Unmarshal(context, &c), json.Unmarshal(guardians, &gs)); err != nil {
			t.Fatalf("%s changed: the stored election does not decode: %v", name, err)
		}
		if _, err := record.NewElection(def.Group, &m, &c); err != nil {
			t.Fatalf("%s changed: the stored election is refused when loaded: %v", name, err)
		}
		again, _ := json.Marshal(&m)
		againC, _ := json.Marshal(&c)
		againG, _ := json.Marshal(gs)
		if !bytes.Equal(again, manifest) || !bytes.Equal(againC, context) || !bytes.Equal(againG, guardians) {
			t.Fatalf("%s changed: the stored election reads back otherwise", name)
		}
	})
}

// hexRun finds runs of hex digits long enough to be key material.
var hexRun = regexp.MustCompile(`[0-9A-Fa-f]{16,}`)

// FuzzExtractSecret reads arbitrary guardian_record values of POST
// /api/create-decryption-queue as StartDecryption does, against the
// minimal fixture's election: a record accepted holds the guardian's
// secret key (g^s is its public key) and a backup from every other
// guardian, and seals into what openTrustee opens back to the same; a
// record refused is ErrInvalid or ErrNotFound, whose message never shows
// key material of the record.
func FuzzExtractSecret(f *testing.F) {
	files := headerFiles(f)
	s := &Service{groups: map[string]*eg.Group{}}
	def, err := s.readDefinition(record.NewFolder(files))
	if err != nil {
		f.Fatal(err)
	}
	election, err := record.NewElection(def.Group, def.Manifest, def.Context)
	if err != nil {
		f.Fatal(err)
	}
	el := &loaded{id: 1, group: def.Group, election: election, guardians: def.Guardians}
	dec, err := election.NewDecryptor(def.Guardians, 1)
	if err != nil {
		f.Fatal(err)
	}
	key, err := seal.ParseKey(strings.Repeat("5a", 32))
	if err != nil {
		f.Fatal(err)
	}
	private, _ := filepath.Glob(filepath.Join(fixtures.Private(f, "minimal"), "private_guardians", "*.json"))
	for i, name := range private {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if i < 2 {
			f.Add(data, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "private_guardian_"), ".json"))
		}
		if i == 0 {
			f.Add(data, "2")
			f.Add(data, "9")
			f.Add(bytes.Replace(data, []byte(`"data": "E5`), []byte(`"data": "E6`), 1), "1")
			f.Add(data[:len(data)/2], "1")
		}
	}
	f.Add([]byte(`{}`), "1")
	f.Add([]byte(`{"guardian_id":"1","election_keys":{"key_pair":{"secret_key":{"data":"0A"}}}}`), "1")
	f.Fuzz(func(t *testing.T, raw []byte, guardianID string) {
		tr, err := extractSecret(el, dec, guardianID, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("guardian %q: %v is neither ErrInvalid nor ErrNotFound", guardianID, err)
			}
			var quoted struct {
				GuardianID string `json:"guardian_id"`
			}
			_ = json.Unmarshal(raw, &quoted)
			for _, run := range hexRun.FindAllString(string(raw), -1) {
				for i := 0; i+16 <= len(run); i += 8 {
					part := run[i : i+16]
					if strings.Contains(err.Error(), part) && !strings.Contains(guardianID+" "+quoted.GuardianID, part) {
						t.Fatalf("guardian %q: the error %q shows %q of the record", guardianID, err, part)
					}
				}
			}
			return
		}
		pub, ok := dec.Guardian(guardianID)
		if tr.ID != guardianID || !ok || !el.group.GPow(tr.Secret).Equal(pub.Key) || len(tr.Backups) != len(def.Guardians)-1 {
			t.Fatalf("guardian %q: an accepted record gives a trustee of another guardian or without its backups", guardianID)
		}
		sealed, err := sealTrustee(key, el.id, tr)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := seal.Open(key, sealed, el.id, guardianID)
		if err != nil {
			t.Fatalf("guardian %q: the sealed secret does not open: %v", guardianID, err)
		}
		var ss sealedSecret
		if err := json.Unmarshal(plain, &ss); err != nil {
			t.Fatalf("guardian %q: the unsealed secret does not decode: %v", guardianID, err)
		}
		secret, err := ss.Secret.Q(el.group)
		if err != nil || !secret.Equal(tr.Secret) || len(ss.Backups) != len(tr.Backups) {
			t.Fatalf("guardian %q: the unsealed secret is not the sealed one", guardianID)
		}
		for id, b := range ss.Backups {
			v, err := b.Q(el.group)
			if want, ok := tr.Backups[id]; err != nil || !ok || !v.Equal(want) {
				t.Fatalf("guardian %q: the unsealed backup from %q is not the sealed one", guardianID, id)
			}
		}
	})
}

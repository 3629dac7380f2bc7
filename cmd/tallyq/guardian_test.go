package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/eg/record"
)

// minimalFixture returns the election record and private data folders of the minimal
// 0.95 fixture, found relative to the module root; it skips the test when the fixture
// is missing (fails it in CI).
func minimalFixture(t *testing.T) (public, private string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = filepath.Dir(dir)
	}
	root := filepath.Join(dir, "..", "shared", "fixtures", "electionguard-0.95", "minimal")
	if _, err := os.Stat(filepath.Join(root, "election_record", record.ContextFile)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("the minimal 0.95 fixture is missing: %v", err)
	}
	return filepath.Join(root, "election_record"), filepath.Join(root, "election_private_data", record.PrivateGuardiansDir)
}

// TestGuardianDecrypt runs `tallyq guardian decrypt` on the minimal fixture for guardian
// 1 with guardians 4 and 5 missing: the file it writes verifies against the record, and
// its shares are tally.json's; written to standard output it is the same shares.
func TestGuardianDecrypt(t *testing.T) {
	public, private := minimalFixture(t)
	out := filepath.Join(t.TempDir(), "shares.json")
	code, stdout, stderr := runIn(t, nil, "guardian", "decrypt", "--record", filepath.Join(private, "private_guardian_1.json"),
		"--election-record", public, "--missing", "4, 5", "--out", out)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "guardian 1: shares") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gs, err := record.DecodeGuardianShares(f)
	if err != nil {
		t.Fatal(err)
	}
	if gs.GuardianID != "1" || strings.Join(gs.MissingGuardianIDs, ",") != "4,5" {
		t.Errorf("guardian %q missing %v; want 1 and 4,5", gs.GuardianID, gs.MissingGuardianIDs)
	}
	folder := record.OpenFolder(public)
	d, err := folder.Decryptor(0)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := folder.EncryptedTally()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.VerifyGuardianShares(context.Background(), gs, tally, folder.SubmittedBallots()); err != nil {
		t.Error(err)
	}
	published, err := folder.Tally()
	if err != nil {
		t.Fatal(err)
	}
	shares := 0
	for path, s := range gs.Selections() {
		for _, c := range published.Contests {
			for _, ps := range c.Selections {
				if c.ObjectID != path.ContestID || ps.ObjectID != path.SelectionID {
					continue
				}
				for _, pub := range ps.Shares {
					if pub.GuardianID == "1" && pub.Share.Equal(s.Share.Share) {
						shares++
					}
				}
			}
		}
	}
	selections := 0
	for _, c := range tally.Contests {
		selections += len(c.Selections)
	}
	if shares == 0 || shares != selections {
		t.Errorf("%d of %d shares equal tally.json's", shares, selections)
	}

	// To standard output: the same shares (the proofs are randomised).
	code, stdout, stderr = runIn(t, nil, "guardian", "decrypt", "--record", filepath.Join(private, "private_guardian_1.json"),
		"--election-record", public)
	if code != 0 {
		t.Fatalf("to stdout: exit %d: %s", code, stderr)
	}
	again, err := record.DecodeGuardianShares(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.MissingGuardianIDs) != 0 || !again.Tally.Contests[0].Selections[0].Share.Share.Equal(gs.Tally.Contests[0].Selections[0].Share.Share) {
		t.Error("the shares written to standard output differ")
	}
}

// TestGuardianDecryptKeepsSecrets: with a private record whose key is not the
// guardian's, or is not valid JSON, or with the guardian itself named missing, the
// command fails without printing the secret key or a backup in any form.
func TestGuardianDecryptKeepsSecrets(t *testing.T) {
	public, private := minimalFixture(t)
	orig, err := os.ReadFile(filepath.Join(private, "private_guardian_1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p record.PrivateGuardian
	if err := json.Unmarshal(orig, &p); err != nil {
		t.Fatal(err)
	}
	secret := p.ElectionKeys.KeyPair.SecretKey.Hex
	other := record.HexFromBig(new(big.Int).Add(secret.Big(), big.NewInt(1)))
	var secrets []record.Hex
	secrets = append(secrets, secret, other)
	for _, b := range p.GuardianElectionPartialKeyBackups {
		if h, err := record.ParseHex(string(b.EncryptedValue)); err == nil {
			secrets = append(secrets, h)
		}
	}
	quoted := `"` + secret.String() + `"`
	if !bytes.Contains(orig, []byte(quoted)) {
		t.Fatal("the fixture's secret key is not written as the test expects")
	}
	dir := t.TempDir()
	cases := []struct {
		name, record, missing, want string
	}{
		{"another key", strings.Replace(string(orig), quoted, `"`+other.String()+`"`, 1), "", "does not match"},
		{"not JSON", strings.Replace(string(orig), quoted, secret.String(), 1), "", "invalid JSON at byte"},
		{"not a string", strings.Replace(string(orig), quoted, secret.Big().String(), 1), "", "at byte"},
		{"self missing", string(orig), "1", "names itself missing"},
	}
	for _, tc := range cases {
		path := filepath.Join(dir, tc.name+".json")
		if err := os.WriteFile(path, []byte(tc.record), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"guardian", "decrypt", "--record", path, "--election-record", public}
		if tc.missing != "" {
			args = append(args, "--missing", tc.missing)
		}
		code, stdout, stderr := runIn(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.name, code, stderr, tc.want)
		}
		for _, s := range secrets {
			if leaks(stdout+stderr, s) {
				t.Errorf("%s: the output shows a secret", tc.name)
			}
		}
	}
}

// leaks reports whether out shows h in hex (either case) or decimal.
func leaks(out string, h record.Hex) bool {
	hex := strings.TrimLeft(h.String(), "0")
	return strings.Contains(strings.ToUpper(out), hex) || strings.Contains(out, h.Big().String())
}

// TestGuardianUsage: -h describes the command; a missing action or flag is a usage error.
func TestGuardianUsage(t *testing.T) {
	code, stdout, _ := runIn(t, nil, "guardian", "-h")
	if code != 0 || !strings.Contains(stdout, "Usage: tallyq guardian decrypt") || !strings.Contains(stdout, "TALLYQ_GUARDIAN_RECORD") {
		t.Errorf("-h: exit %d\n%s", code, stdout)
	}
	for _, args := range [][]string{{"guardian"}, {"guardian", "decrypt"}, {"guardian", "decrypt", "--record", "x.json"}} {
		if code, _, stderr := runIn(t, nil, args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}

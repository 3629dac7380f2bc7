package verify

import (
	"errors"
	"fmt"
	"strings"
)

// Check names one of the verifier's checks.
type Check string

// The checks, in the order Record makes them.
const (
	CheckRead             Check = "read"                    // a file is missing or is not the JSON the 0.95 format has
	CheckConstants        Check = "constants"               // constants.json is not the group's
	CheckManifest         Check = "manifest"                // the manifest is inconsistent (duplicate ids, unknown districts)
	CheckManifestHash     Check = "manifest hash"           // the context's manifest_hash is not the manifest's hash
	CheckGuardian         Check = "guardian record"         // a guardian's id, sequence order or commitments are malformed
	CheckKeyProof         Check = "guardian key proof"      // a Schnorr proof of a coefficient commitment does not verify
	CheckJointKey         Check = "joint public key"        // the context's key is not the product of the guardians' keys
	CheckCommitmentHash   Check = "commitment hash"         // the context's commitment_hash is not H(all commitments)
	CheckBaseHash         Check = "crypto base hash"        // the context's crypto_base_hash is not H(p, q, g, n, k, manifest hash)
	CheckExtendedBaseHash Check = "extended base hash"      // the context's Q̄ is not H(base hash, commitment hash)
	CheckBallot           Check = "ballot structure"        // style, contests, selections, placeholders or description hashes do not match the manifest
	CheckDuplicate        Check = "duplicate ballot"        // two ballots have the same object id
	CheckSubgroup         Check = "subgroup membership"     // an element is not in the order-q subgroup
	CheckCryptoHash       Check = "crypto hash"             // a selection's, contest's or ballot's crypto_hash does not recompute
	CheckTrackingCode     Check = "tracking code"           // a ballot's code is not H(code_seed, timestamp, crypto_hash)
	CheckCodeChain        Check = "tracking code chain"     // a code seed is neither a device's hash nor another ballot's code
	CheckSelectionProof   Check = "selection proof"         // a selection's 0/1 (disjunctive) proof does not verify
	CheckAccumulation     Check = "contest accumulation"    // a contest's ciphertext_accumulation is not the product of its selections
	CheckContestProof     Check = "contest proof"           // a contest's constant proof does not verify for the manifest's limit
	CheckEncryptedTally   Check = "encrypted tally"         // encrypted_tally.json does not list the manifest's contests and selections
	CheckTallyProduct     Check = "tally product"           // a selection of the encrypted tally is not the product of the cast ballots'
	CheckTallyMessage     Check = "decrypted message"       // a decrypted selection's message is not the ciphertext it claims to decrypt
	CheckShares           Check = "shares"                  // a decrypted selection lacks a guardian's share, or has one twice
	CheckShareProof       Check = "share proof"             // a guardian's Chaum–Pedersen proof of its share does not verify
	CheckRecoveryKey      Check = "recovery key"            // a recovery key is not ∏ K_{l,j}^(x_i^j) of the missing guardian's commitments
	CheckCompensatedProof Check = "compensated share proof" // a compensated share's proof does not verify against its recovery key
	CheckReconstruction   Check = "share reconstruction"    // a missing guardian's share is not ∏ M_{l,i}^(w_i) of its parts
	CheckCoefficients     Check = "lagrange coefficients"   // coefficients.json is not the available guardians' Lagrange coefficients
	CheckDecryption       Check = "decryption"              // value is not B / ∏ M_i, or not g^tally
	CheckCount            Check = "tally count"             // a count exceeds what the cast ballots allow
	CheckPlaintext        Check = "plaintext"               // tally.json or a spoiled ballot's decryption lacks a selection it must decrypt, or has one too many
	CheckSpoiled          Check = "spoiled ballot"          // a spoiled ballot is not decrypted, or a decryption is of no spoiled ballot
	CheckInvalidBallot    Check = "invalid ballot"          // (warning) a ballot of invalid_ballots/ passes every check
)

// Problem is one failed check: which check, in which file, where in it (ballot,
// contest, selection or guardian) and what is wrong.
type Problem struct {
	Check  Check
	File   string // path inside the record, such as "tally.json"
	Where  string // such as "contest c, selection s, guardian 4"; empty for the whole file
	Detail string
}

// String is "file: where: check: detail".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Where != "" {
		b.WriteString(": ")
		b.WriteString(p.Where)
	}
	fmt.Fprintf(&b, ": %s check failed: %s", p.Check, p.Detail)
	return b.String()
}

// Report is the outcome of verifying a record: what it holds and every problem found.
// A record is valid when Problems is empty; Warnings do not make it invalid.
type Report struct {
	Group            string   // the group of constants.json: "standard" or "test"
	Guardians        int      // number of guardians n
	Quorum           int      // quorum k
	MissingGuardians []string // guardians whose shares were reconstructed, by id
	CastBallots      int      // ballots of submitted_ballots/ in state CAST
	SpoiledBallots   int      // ballots of submitted_ballots/ in state SPOILED
	InvalidBallots   int      // ballots of invalid_ballots/, which the tally leaves out
	DecryptedSpoiled int      // files of spoiled_ballots/
	Selections       int      // selections of the decrypted tally
	Problems         []Problem
	// MoreProblems counts the problems found beyond Options.MaxProblems.
	MoreProblems int
	Warnings     []Problem
}

// OK reports whether the record passed every check.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Err returns nil for a valid record, or an error listing its problems one a line.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	lines := make([]string, 0, len(r.Problems)+1)
	for _, p := range r.Problems {
		lines = append(lines, p.String())
	}
	if r.MoreProblems > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more problems", r.MoreProblems))
	}
	n := len(r.Problems) + r.MoreProblems
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	return fmt.Errorf("%w: %d %s:\n%s", ErrInvalid, n, noun, strings.Join(lines, "\n"))
}

// ErrInvalid is wrapped by Report.Err.
var ErrInvalid = errors.New("the election record does not verify")

// Summary is one line on what was verified.
func (r *Report) Summary() string {
	missing := "none"
	if len(r.MissingGuardians) > 0 {
		missing = strings.Join(r.MissingGuardians, ", ")
	}
	return fmt.Sprintf("%s group, %d guardians (quorum %d, missing: %s); %d cast and %d spoiled ballots, %d invalid ballots left out; %d tally selections and %d spoiled ballot decryptions",
		r.Group, r.Guardians, r.Quorum, missing, r.CastBallots, r.SpoiledBallots, r.InvalidBallots, r.Selections, r.DecryptedSpoiled)
}

// problems collects problems up to a limit; it is not safe for concurrent use.
type problems struct {
	limit    int
	list     []Problem
	more     int
	warnings []Problem
}

func (ps *problems) add(p Problem) {
	if len(ps.list) >= ps.limit {
		ps.more++
		return
	}
	ps.list = append(ps.list, p)
}

func (ps *problems) addAll(list []Problem) {
	for _, p := range list {
		ps.add(p)
	}
}

// addf adds a problem with a formatted detail.
func (ps *problems) addf(check Check, file, where, format string, args ...any) {
	ps.add(Problem{Check: check, File: file, Where: where, Detail: fmt.Sprintf(format, args...)})
}

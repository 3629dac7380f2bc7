// Package record reads, writes, hashes, validates and produces ElectionGuard 0.95
// election records as electionguard-python 1.x writes them (the layout of the 0.95
// sample records: constants.json, context.json, manifest.json, guardians/,
// submitted_ballots/, spoiled_ballots/, encrypted_tally.json, tally.json,
// coefficients.json, encryption_devices/, and the private guardian records of
// election_private_data/private_guardians/).
//
// The record types are the wire format: every group element is a Hex, range-checked
// only when converted to the elements of a group (Hex.P, Hex.Q, the Elements methods).
// The arithmetic is package eg's.
//
// # Reading
//
// OpenFolder (or NewFolder on any fs.FS) reads a record folder; SubmittedBallots and
// SpoiledBallots stream one ballot at a time, never a folder in memory. DecodeBallots
// streams ballots from NDJSON. Decode reads any one document. PrivateGuardians reads the
// private guardian records.
//
// # Hashes
//
// Every manifest description has the CryptoHash of 1.x's manifest.py; Manifest.CryptoHash
// is the manifest hash. CommitmentHash, CryptoBaseHash and ExtendedBaseHash (Q̄) make the
// context, which NewContext builds and VerifyContext checks against the guardians.
//
// # Validating and tallying
//
// NewElection prepares a manifest and context once. Election.ValidateBallot checks one
// submitted ballot (a *BallotError names ballot, contest, selection and Check);
// Election.ValidateBallots checks many, the selection proofs in batches of eg.MaxBatch.
// Election.NewTally accumulates cast ballots into the encrypted tally (Tally.Add, Merge,
// Record); Election.TallyFromRecord reads one back.
//
// # Decrypting
//
// Election.NewDecryptor makes guardians' shares (Share), compensated parts for missing
// guardians (Compensate, from backups a Trustee opened with its RSA auxiliary key) and
// missing shares (Reconstruct), checks and combines a selection's shares (Combine), and
// decrypts whole tallies or spoiled ballots (Decrypt). Coefficients gives
// coefficients.json.
//
// # Producing records
//
// KeyCeremony runs a 1.x key ceremony (RSA auxiliary keys of CeremonyOptions.RSABits,
// 4096 by default as in 1.x; 1024 keeps tests and demos fast), Election.NewEncrypter
// encrypts plaintext ballots with proofs and placeholders, and Writer writes the layout.
package record

// Package verify is an independent verifier of ElectionGuard 0.95 election records: the
// folder electionguard-python 1.x publishes (constants.json, context.json,
// manifest.json, guardians/, encryption_devices/, submitted_ballots/,
// encrypted_tally.json, tally.json, spoiled_ballots/, coefficients.json) and that
// `tallyq export` writes, with tallyq's invalid_ballots/ (ballots the tally rejected,
// not part of the tally product).
//
// It shares only the group arithmetic and the hash H with the rest of tallyq (package
// eg); it reads the JSON with its own structures and checks every equation from the
// specification's formulas, never calling the code that produced the record. So a bug
// in tallyq's pipeline shows up here rather than being repeated.
//
// Record (or Dir for a folder) checks:
//
//   - the constants are the group's; the manifest hashes to the context's manifest_hash;
//     the context's commitment hash, base hash, extended base hash Q̄ and joint key
//     K = ∏ K_i follow from the guardians; every guardian's Schnorr proofs of its
//     coefficient commitments;
//   - every ballot: its style, contests, selections and placeholders against the
//     manifest, every ciphertext in the order-q subgroup, the selection, contest and
//     ballot crypto hashes (selections and contests in sequence order, as 1.x), the
//     tracking code H(code_seed, timestamp, crypto_hash) and that every code seed is a
//     device's hash or another ballot's code, each selection's 0/1 proof, each contest's
//     accumulation and constant proof for the manifest's limit;
//   - that each selection of the encrypted tally is the product of the cast ballots';
//   - the decryption of the tally and of every spoiled ballot: each guardian's share
//     with its Chaum–Pedersen proof, each missing guardian's share as ∏ M_{l,i}^(w_i) of
//     compensated shares whose recovery keys ∏ K_{l,j}^(x_i^j) are recomputed and whose
//     proofs hold, coefficients.json, value = B / ∏ M_i = g^tally, and the counts.
//
// Every defect is a Problem naming the check, the file and where in it (ballot, contest,
// selection, guardian); the Report also counts what the record holds. Ballots are read
// one at a time on Options.Workers goroutines, so records of any size verify in flat
// memory.
package verify

package record

// CiphertextTally is the encrypted tally (encrypted_tally.json, python PublishedCiphertextTally).
type CiphertextTally struct {
	ObjectID string                        `json:"object_id"`
	Contests Keyed[CiphertextTallyContest] `json:"contests"`
}

// CiphertextTallyContest is one contest of the encrypted tally.
type CiphertextTallyContest struct {
	ObjectID        string                          `json:"object_id"`
	SequenceOrder   int                             `json:"sequence_order"`
	DescriptionHash Hex                             `json:"description_hash"`
	Selections      Keyed[CiphertextTallySelection] `json:"selections"`
}

// CiphertextTallySelection is one selection's product of the cast ballots' ciphertexts.
type CiphertextTallySelection struct {
	ObjectID        string     `json:"object_id"`
	SequenceOrder   int        `json:"sequence_order"`
	DescriptionHash Hex        `json:"description_hash"`
	Ciphertext      Ciphertext `json:"ciphertext"`
}

func (c CiphertextTallyContest) recordKey() string   { return c.ObjectID }
func (s CiphertextTallySelection) recordKey() string { return s.ObjectID }

// PlaintextTally is a decrypted tally (tally.json) or a decrypted spoiled ballot
// (spoiled_ballots/), with every guardian's share.
type PlaintextTally struct {
	ObjectID string                       `json:"object_id"`
	Contests Keyed[PlaintextTallyContest] `json:"contests"`
}

// PlaintextTallyContest is one decrypted contest.
type PlaintextTallyContest struct {
	ObjectID   string                         `json:"object_id"`
	Selections Keyed[PlaintextTallySelection] `json:"selections"`
}

// PlaintextTallySelection is one decrypted selection: its count, g^count, the ciphertext
// decrypted and the guardians' shares.
type PlaintextTallySelection struct {
	ObjectID string            `json:"object_id"`
	Tally    int64             `json:"tally"`
	Value    Hex               `json:"value"`
	Message  Ciphertext        `json:"message"`
	Shares   []DecryptionShare `json:"shares"`
}

// DecryptionShare is one guardian's share M_i of a selection: with a proof when the
// guardian computed it, or rebuilt from recovered parts when the guardian was missing.
type DecryptionShare struct {
	ObjectID       string                  `json:"object_id"`
	GuardianID     string                  `json:"guardian_id"`
	Share          Hex                     `json:"share"`
	Proof          *ChaumPedersenProof     `json:"proof"`
	RecoveredParts Keyed[CompensatedShare] `json:"recovered_parts"`
}

// CompensatedShare is an available guardian's part M_{l,i} of a missing guardian's share.
type CompensatedShare struct {
	ObjectID          string             `json:"object_id"`
	GuardianID        string             `json:"guardian_id"`
	MissingGuardianID string             `json:"missing_guardian_id"`
	Share             Hex                `json:"share"`
	RecoveryKey       Hex                `json:"recovery_key"`
	Proof             ChaumPedersenProof `json:"proof"`
}

func (c PlaintextTallyContest) recordKey() string   { return c.ObjectID }
func (s PlaintextTallySelection) recordKey() string { return s.ObjectID }
func (c CompensatedShare) recordKey() string        { return c.GuardianID }

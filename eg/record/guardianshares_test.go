package record

import (
	"bytes"
	"context"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"
)

// sharesCase is an election with one guardian's computed shares, for the tests that
// check and tamper with them.
type sharesCase struct {
	name     string
	d        *Decryptor
	tally    *CiphertextTally
	ballots  []*SubmittedBallot
	shares   *GuardianShares
	guardian string
	others   []string // guardians of the election neither the shareholder nor missing
}

func ballotSeq(ballots []*SubmittedBallot) iter.Seq2[*SubmittedBallot, error] {
	return func(yield func(*SubmittedBallot, error) bool) {
		for _, b := range ballots {
			if !yield(b, nil) {
				return
			}
		}
	}
}

// generatedShares computes the first test guardian's shares, two guardians missing, of a
// test-group election of 9 ballots (3 spoiled).
func generatedShares(t testing.TB) *sharesCase {
	t.Helper()
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 9, 3)
	tally := tallyOf(t, gen.election, ballots)
	d, err := gen.election.NewDecryptor(gen.cer.Guardians, uint64(tally.Cast()))
	if err != nil {
		t.Fatal(err)
	}
	p := gen.cer.Private
	missing := []string{p[1].GuardianID, p[2].GuardianID}
	sc := &sharesCase{name: "generated", d: d, tally: tally.Record("election-results"), ballots: ballots,
		guardian: p[0].GuardianID, others: []string{p[3].GuardianID, p[4].GuardianID}}
	sc.shares, err = ComputeGuardianShares(context.Background(), d, p[0], sc.tally, ballotSeq(ballots), missing)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// fixtureTally reads what decrypting a fixture needs: a decryptor, tally.json and
// encrypted_tally.json.
func fixtureTally(t *testing.T, fx *fixture) (*Decryptor, *PlaintextTally, *CiphertextTally) {
	t.Helper()
	d, err := fx.election.NewDecryptor(fx.guardians, 0)
	if err != nil {
		t.Fatal(err)
	}
	published, err := fx.folder.Tally()
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := fx.folder.EncryptedTally()
	if err != nil {
		t.Fatal(err)
	}
	return d, published, encrypted
}

// fixtureShares computes the shares of the first guardian of a fixture's tally.json that
// decrypted, compensating for the ones it lists missing.
func fixtureShares(t *testing.T, fx *fixture) (*sharesCase, *PlaintextTally) {
	t.Helper()
	d, published, encrypted := fixtureTally(t, fx)
	available, missing := shareholders(t, published)
	sc := &sharesCase{name: fx.set, d: d, tally: encrypted, ballots: fx.ballots, guardian: available[0], others: available[1:]}
	var err error
	sc.shares, err = ComputeGuardianShares(context.Background(), d, privateOf(t, fx, available[0]), encrypted, fx.folder.SubmittedBallots(), missing)
	if err != nil {
		t.Fatal(err)
	}
	return sc, published
}

func privateOf(t testing.TB, fx *fixture, id string) *PrivateGuardian {
	t.Helper()
	for _, p := range fx.private {
		if p.GuardianID == id {
			return p
		}
	}
	t.Fatalf("no private record of guardian %q", id)
	return nil
}

func (sc *sharesCase) verify(gs *GuardianShares) error {
	return sc.d.VerifyGuardianShares(context.Background(), gs, sc.tally, ballotSeq(sc.ballots))
}

// TestGuardianSharesMinimalFixture: each of the five guardians of the minimal fixture
// computes its shares (those that decrypted also compensating for those that did not);
// every share equals tally.json's share of that guardian (a missing guardian's own share
// equals the one its recovered parts rebuilt), every compensated share and recovery key
// equals the published recovered part, and every file verifies, also after a round trip
// through its encoding.
func TestGuardianSharesMinimalFixture(t *testing.T) {
	fx := loadFixture(t, "minimal")
	d, published, encrypted := fixtureTally(t, fx)
	available, missing := shareholders(t, published)
	for _, p := range fx.private {
		var compensate []string
		if slices.Contains(available, p.GuardianID) {
			compensate = missing
		}
		gs, err := ComputeGuardianShares(context.Background(), d, p, encrypted, fx.folder.SubmittedBallots(), compensate)
		if err != nil {
			t.Fatalf("guardian %s: %v", p.GuardianID, err)
		}
		if len(gs.SpoiledBallots) != 0 {
			t.Errorf("guardian %s: shares of %d spoiled ballots; the fixture has none", p.GuardianID, len(gs.SpoiledBallots))
		}
		checkPublishedShares(t, gs, "", published)
		if err := d.VerifyGuardianShares(context.Background(), gs, encrypted, fx.folder.SubmittedBallots()); err != nil {
			t.Errorf("guardian %s: %v", p.GuardianID, err)
		}
		data := mustMarshal(t, gs)
		back, err := DecodeGuardianShares(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("guardian %s: decode: %v", p.GuardianID, err)
		}
		if again := mustMarshal(t, back); !bytes.Equal(again, data) {
			t.Errorf("guardian %s: the file does not round-trip", p.GuardianID)
		}
		if err := d.VerifyGuardianShares(context.Background(), back, encrypted, fx.folder.SubmittedBallots()); err != nil {
			t.Errorf("guardian %s: decoded: %v", p.GuardianID, err)
		}
	}
}

// TestGuardianSharesSmallFixture: in the 4096-bit small fixture, which has spoiled
// ballots, a guardian's shares of the tally and of every spoiled ballot (placeholders
// included, as spoiled_ballots/ publishes them) and its compensated shares equal the
// published ones, and the file verifies.
func TestGuardianSharesSmallFixture(t *testing.T) {
	fx := loadFixture(t, "small")
	sc, published := fixtureShares(t, fx)
	checkPublishedShares(t, sc.shares, "", published)
	spoiled := 0
	for pt, err := range fx.folder.SpoiledBallots() {
		if err != nil {
			t.Fatal(err)
		}
		checkPublishedShares(t, sc.shares, pt.ObjectID, pt)
		spoiled++
	}
	if spoiled == 0 || len(sc.shares.SpoiledBallots) != spoiled {
		t.Errorf("shares of %d spoiled ballots; %d published", len(sc.shares.SpoiledBallots), spoiled)
	}
	if err := sc.verify(sc.shares); err != nil {
		t.Error(err)
	}
}

// checkPublishedShares compares gs's shares of one object with a published decryption of
// it (tally.json or a spoiled ballot): the same selections, each share the published share
// of gs's guardian, each compensated share and recovery key the published recovered part.
func checkPublishedShares(t *testing.T, gs *GuardianShares, ballotID string, published *PlaintextTally) {
	t.Helper()
	mine := map[SharePath]*SelectionShares{}
	for path, s := range gs.Selections() {
		if path.BallotID == ballotID {
			mine[path] = s
		}
	}
	n := 0
	for _, c := range published.Contests {
		for _, ps := range c.Selections {
			n++
			path := SharePath{ballotID, c.ObjectID, ps.ObjectID}
			s := mine[path]
			if s == nil {
				t.Errorf("guardian %s: %s: no share", gs.GuardianID, path)
				continue
			}
			for _, pub := range ps.Shares {
				switch {
				case pub.GuardianID == gs.GuardianID:
					if !s.Share.Share.Equal(pub.Share) || s.Share.Share.String() != pub.Share.String() {
						t.Errorf("guardian %s: %s: share differs from the published one", gs.GuardianID, path)
					}
				case slices.Contains(gs.MissingGuardianIDs, pub.GuardianID):
					checkPublishedPart(t, gs, path, s, pub)
				}
			}
		}
	}
	if len(mine) != n {
		t.Errorf("guardian %s: %d selections of %q; %d published", gs.GuardianID, len(mine), ballotID, n)
	}
}

func checkPublishedPart(t *testing.T, gs *GuardianShares, path SharePath, s *SelectionShares, pub DecryptionShare) {
	t.Helper()
	want, ok := pub.RecoveredParts.Get(gs.GuardianID)
	k := slices.Index(gs.MissingGuardianIDs, pub.GuardianID)
	if !ok {
		t.Fatalf("%s: tally.json has no part of %s from %s", path, pub.GuardianID, gs.GuardianID)
	}
	got := s.CompensatedShares[k]
	if got.MissingGuardianID != pub.GuardianID || !got.Share.Equal(want.Share) || !got.RecoveryKey.Equal(want.RecoveryKey) {
		t.Errorf("guardian %s: %s: compensated share for %s differs from the published part", gs.GuardianID, path, pub.GuardianID)
	}
}

func cloneGuardianShares(t *testing.T, gs *GuardianShares) *GuardianShares {
	t.Helper()
	var out GuardianShares
	if err := unmarshal(mustMarshal(t, gs), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// relabel rewrites every guardian id of the shareholder to id, as a guardian passing off
// another's file as its own would.
func relabel(gs *GuardianShares, id string) {
	gs.GuardianID = id
	for _, s := range gs.Selections() {
		s.Share.GuardianID = id
		for k := range s.CompensatedShares {
			s.CompensatedShares[k].GuardianID = id
		}
	}
}

func firstSelection(o *ObjectShares) *SelectionShares { return &o.Contests[0].Selections[0] }

// sharesTampers are edits of a valid file, each refused with an error naming wants
// (besides the guardian): "$path" is replaced by the path of the first tally selection,
// "$ballot" by the first spoiled ballot's id, "$m0" and "$m1" by the missing guardians
// and "$other" by a guardian neither the shareholder nor missing.
var sharesTampers = []struct {
	name    string
	spoiled bool // needs a spoiled ballot
	edit    func(sc *sharesCase, gs *GuardianShares)
	want    []string
}{
	{"changed share", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.Share.Share = bump(s.Share.Share)
	}, []string{"$path", "share proof"}},
	{"changed proof", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.Share.Proof.Response = bump(s.Share.Proof.Response)
	}, []string{"$path", "share proof"}},
	{"changed compensated share", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.CompensatedShares[1].Share = bump(s.CompensatedShares[1].Share)
	}, []string{"$path", `compensated share for "$m1": proof`}},
	{"changed compensated proof", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.CompensatedShares[0].Proof.Challenge = bump(s.CompensatedShares[0].Proof.Challenge)
	}, []string{"$path", `compensated share for "$m0": proof`}},
	{"changed recovery key", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.CompensatedShares[0].RecoveryKey = bump(s.CompensatedShares[0].RecoveryKey)
	}, []string{"$path", `"$m0"`, "recovery key"}},
	{"missing selection", false, func(_ *sharesCase, gs *GuardianShares) {
		c := &gs.Tally.Contests[0]
		c.Selections = c.Selections[1:]
	}, []string{"$path", "no share"}},
	{"extra selection", false, func(_ *sharesCase, gs *GuardianShares) {
		c := &gs.Tally.Contests[0]
		extra := c.Selections[0]
		extra.ObjectID, extra.Share.ObjectID = "bogus-selection", "bogus-selection"
		c.Selections = append(c.Selections, extra)
	}, []string{"bogus-selection", "no such selection"}},
	{"extra contest", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.Tally.Contests = append(gs.Tally.Contests, ContestShares{ObjectID: "bogus-contest", Selections: gs.Tally.Contests[0].Selections})
	}, []string{"bogus-contest", "no such selection"}},
	{"selection twice", false, func(_ *sharesCase, gs *GuardianShares) {
		c := &gs.Tally.Contests[0]
		c.Selections = append(c.Selections, c.Selections[0])
	}, []string{"$path", "appears twice"}},
	{"share of another selection", false, func(_ *sharesCase, gs *GuardianShares) {
		firstSelection(&gs.Tally).Share.ObjectID = "bogus-selection"
	}, []string{"$path", "the share is for selection bogus-selection"}},
	{"share with recovered parts", false, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.Tally)
		s.Share.RecoveredParts = Keyed[CompensatedShare]{s.CompensatedShares[0]}
	}, []string{"$path", "recovered parts"}},
	{"missing guardian left out", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.MissingGuardianIDs = gs.MissingGuardianIDs[:1]
	}, []string{"$path", "2 compensated shares for 1 missing guardians"}},
	{"missing guardians reordered", false, func(_ *sharesCase, gs *GuardianShares) {
		slices.Reverse(gs.MissingGuardianIDs)
	}, []string{"$path", "missing_guardian_ids order"}},
	{"self named missing", false, func(sc *sharesCase, gs *GuardianShares) {
		gs.MissingGuardianIDs[0] = sc.guardian
	}, []string{"names itself missing"}},
	{"unknown missing guardian", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.MissingGuardianIDs[1] = "nobody"
	}, []string{`missing guardian "nobody" is not a guardian of this election`}},
	{"wrong election hash", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.ExtendedBaseHash = bump(gs.ExtendedBaseHash)
	}, []string{"extended base hash"}},
	{"unknown guardian", false, func(_ *sharesCase, gs *GuardianShares) {
		relabel(gs, "mallory")
	}, []string{`"mallory" is not a guardian of this election`}},
	{"another guardian's name", false, func(sc *sharesCase, gs *GuardianShares) {
		relabel(gs, sc.others[0])
	}, []string{`"$other"`, "$path", "recovery key"}},
	{"another guardian's name, no compensation", false, func(sc *sharesCase, gs *GuardianShares) {
		relabel(gs, sc.others[0])
		gs.MissingGuardianIDs = []string{}
		for _, s := range gs.Selections() {
			s.CompensatedShares = nil
		}
	}, []string{`"$other"`, "$path", "share proof"}},
	{"another tally", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.Tally.ObjectID = "another-tally"
	}, []string{"another-tally"}},
	{"version", false, func(_ *sharesCase, gs *GuardianShares) {
		gs.Version = 2
	}, []string{"version 2"}},
	{"missing spoiled ballot", true, func(_ *sharesCase, gs *GuardianShares) {
		gs.SpoiledBallots = gs.SpoiledBallots[1:]
	}, []string{"$ballot", "has no shares"}},
	{"extra spoiled ballot", true, func(_ *sharesCase, gs *GuardianShares) {
		extra := gs.SpoiledBallots[0]
		extra.ObjectID = "ballot-bogus"
		gs.SpoiledBallots = append(gs.SpoiledBallots, extra)
	}, []string{"ballot-bogus", "not a spoiled ballot"}},
	{"cast ballot decrypted", true, func(sc *sharesCase, gs *GuardianShares) {
		extra := gs.SpoiledBallots[0]
		for _, b := range sc.ballots {
			if b.State == BallotCast {
				extra.ObjectID = b.ObjectID
			}
		}
		gs.SpoiledBallots = append(gs.SpoiledBallots, extra)
	}, []string{"not a spoiled ballot"}},
	{"spoiled ballot twice", true, func(_ *sharesCase, gs *GuardianShares) {
		gs.SpoiledBallots = append(gs.SpoiledBallots, gs.SpoiledBallots[0])
	}, []string{"$ballot", "appears twice"}},
	{"spoiled ballot's selection missing", true, func(_ *sharesCase, gs *GuardianShares) {
		c := &gs.SpoiledBallots[0].Contests[0]
		c.Selections = c.Selections[1:]
	}, []string{"spoiled ballot $ballot", "no share"}},
	{"spoiled ballot's share changed", true, func(_ *sharesCase, gs *GuardianShares) {
		s := firstSelection(&gs.SpoiledBallots[0])
		s.Share.Share = bump(s.Share.Share)
	}, []string{"spoiled ballot $ballot", "share proof"}},
}

// TestGuardianSharesRefusesTampering: a valid file (of the test-group election with
// spoiled ballots, and of the minimal fixture) verifies, and each edit of it is refused
// with an error naming the guardian, the selection when there is one, and the problem.
func TestGuardianSharesRefusesTampering(t *testing.T) {
	for _, load := range []func(t *testing.T) *sharesCase{
		func(t *testing.T) *sharesCase { return generatedShares(t) },
		func(t *testing.T) *sharesCase { sc, _ := fixtureShares(t, loadFixture(t, "minimal")); return sc },
	} {
		sc := load(t)
		t.Run(sc.name, func(t *testing.T) {
			if err := sc.verify(sc.shares); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			first := firstSelection(&sc.shares.Tally)
			vars := []string{"$path", SharePath{"", sc.shares.Tally.Contests[0].ObjectID, first.ObjectID}.String(),
				"$m0", sc.shares.MissingGuardianIDs[0], "$m1", sc.shares.MissingGuardianIDs[1], "$other", sc.others[0]}
			if len(sc.shares.SpoiledBallots) > 0 {
				vars = append(vars, "$ballot", sc.shares.SpoiledBallots[0].ObjectID)
			}
			replacer := strings.NewReplacer(vars...)
			for _, tc := range sharesTampers {
				if tc.spoiled && len(sc.shares.SpoiledBallots) == 0 {
					continue
				}
				gs := cloneGuardianShares(t, sc.shares)
				tc.edit(sc, gs)
				err := sc.verify(gs)
				if err == nil {
					t.Errorf("%s: accepted", tc.name)
					continue
				}
				for _, w := range append([]string{`guardian "` + gs.GuardianID + `"`}, tc.want...) {
					if w = replacer.Replace(w); !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %v\n  does not say %q", tc.name, err, w)
					}
				}
			}
		})
	}
}

// TestComputeGuardianSharesRefuses: a private record that is not the named guardian's,
// bad missing guardians and a cancelled context are errors, and none quotes a secret.
func TestComputeGuardianSharesRefuses(t *testing.T) {
	sc := generatedShares(t)
	d, tally, ballots := sc.d, sc.tally, sc.ballots
	p := generatedElection(t).cer.Private
	impostor := *p[0]
	impostor.GuardianID = p[1].GuardianID
	stranger := *p[0]
	stranger.GuardianID = "mallory"
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		p       *PrivateGuardian
		missing []string
		want    string
	}{
		{"record of another guardian", context.Background(), &impostor, nil, "sequence order"},
		{"unknown guardian", context.Background(), &stranger, nil, `"mallory" is not a guardian of this election`},
		{"self missing", context.Background(), p[0], []string{p[0].GuardianID}, "names itself missing"},
		{"missing twice", context.Background(), p[0], []string{p[1].GuardianID, p[1].GuardianID}, "named twice"},
		{"unknown missing", context.Background(), p[0], []string{"nobody"}, `"nobody" is not a guardian`},
		{"cancelled", cancelled, p[0], nil, context.Canceled.Error()},
	}
	for _, tc := range cases {
		_, err := ComputeGuardianShares(tc.ctx, d, tc.p, tally, ballotSeq(ballots), tc.missing)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
			continue
		}
		if secret := p[0].ElectionKeys.KeyPair.SecretKey.Hex.String(); strings.Contains(strings.ToUpper(err.Error()), secret) {
			t.Errorf("%s: the error quotes the secret key", tc.name)
		}
	}
	// A record whose sequence order matches but whose key does not.
	forged := *p[0]
	forged.GuardianID, forged.ElectionKeys.SequenceOrder = p[1].GuardianID, p[1].ElectionKeys.SequenceOrder
	if _, err := ComputeGuardianShares(context.Background(), d, &forged, tally, ballotSeq(ballots), nil); err == nil || !strings.Contains(err.Error(), "not this guardian's public key") {
		t.Errorf("forged record: got %v", err)
	}
}

// TestGuardianSharesSelections: Selections yields every selection of the tally and of
// each spoiled ballot once, with its path, and stops when asked.
func TestGuardianSharesSelections(t *testing.T) {
	sc := generatedShares(t)
	want := map[SharePath]bool{}
	for _, c := range sc.tally.Contests {
		for _, s := range c.Selections {
			want[SharePath{"", c.ObjectID, s.ObjectID}] = true
		}
	}
	for _, b := range sc.ballots {
		if b.State != BallotSpoiled {
			continue
		}
		for _, c := range b.Contests {
			for _, s := range c.BallotSelections {
				want[SharePath{b.ObjectID, c.ObjectID, s.ObjectID}] = true
			}
		}
	}
	got := map[SharePath]bool{}
	for path, s := range sc.shares.Selections() {
		if got[path] || !want[path] || s.ObjectID != path.SelectionID || s.Share.ObjectID != path.SelectionID {
			t.Errorf("unexpected or repeated %s", path)
		}
		got[path] = true
	}
	if len(got) != len(want) {
		t.Errorf("%d selections yielded, want %d", len(got), len(want))
	}
	n := 0
	for range sc.shares.Selections() {
		if n++; n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("break after 3 yielded %d", n)
	}
}

// TestDecodeGuardianSharesStrict: what the format does not define is refused, naming where.
func TestDecodeGuardianSharesStrict(t *testing.T) {
	data := mustMarshal(t, generatedShares(t).shares)
	if _, err := DecodeGuardianShares(bytes.NewReader(data)); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(data, []byte(old)) {
			t.Fatalf("the file has no %q", old)
		}
		return bytes.Replace(data, []byte(old), []byte(new), 1)
	}
	cases := map[string]struct {
		data []byte
		want string
	}{
		"unknown field":        {edit(`"format": `, `"signature": 1, "format": `), `$: unknown field "signature"`},
		"unknown nested field": {edit(`"data": "`, `"junk": 0, "data": "`), `$.crypto_extended_base_hash: unknown field "junk"`},
		"field in other case":  {edit(`"guardian_id": `, `"Guardian_ID": `), `unknown field "Guardian_ID"`},
		"field twice":          {edit(`"version": 1`, `"version": 1, "version": 1`), `field "version" appears twice`},
		"trailing data":        {append(slices.Clone(data), "{}"...), "trailing data"},
		"other format":         {edit(`"tallyq-guardian-shares"`, `"tally"`), `format "tally"`},
		"not JSON":             {[]byte("shares"), "invalid character"},
		"too large":            {append(slices.Clone(data), bytes.Repeat([]byte(" "), MaxDocumentBytes)...), "larger than"},
	}
	for name, tc := range cases {
		_, err := DecodeGuardianShares(bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, tc.want)
		}
	}
}

// TestDecodePrivateGuardianRedacts: a private record whose secret key is not valid JSON
// or not a string is refused without quoting it.
func TestDecodePrivateGuardianRedacts(t *testing.T) {
	p := generatedElection(t).cer.Private[0]
	data := mustMarshal(t, p)
	key := p.ElectionKeys.KeyPair.SecretKey.Hex
	quoted := `"data": "` + key.String() + `"`
	for name, replacement := range map[string]string{
		"syntax": `"data": ` + key.String(),
		"number": `"data": ` + key.Big().String(),
	} {
		bad := bytes.Replace(data, []byte(quoted), []byte(replacement), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s: the secret key is not where the test expects it", name)
		}
		_, err := DecodePrivateGuardian(bytes.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), "at byte") {
			t.Fatalf("%s: got %v, want an error saying where", name, err)
		}
		for _, form := range []string{key.String(), strings.ToLower(key.String()), key.Big().String(), "invalid character"} {
			if strings.Contains(err.Error(), form) {
				t.Errorf("%s: %v quotes the record", name, err)
			}
		}
	}
	if back, err := DecodePrivateGuardian(bytes.NewReader(data)); err != nil || !back.ElectionKeys.KeyPair.SecretKey.Hex.Equal(key) {
		t.Errorf("valid record: %v", err)
	}
}

// FuzzDecodeGuardianShares: decoding never panics, what decodes encodes stably, and
// verifying it against the test-group election never panics; what verifies holds the
// true share values (a proof verifies only for the true share).
func FuzzDecodeGuardianShares(f *testing.F) {
	sc := generatedShares(f)
	valid, err := Marshal(sc.shares)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"format": "tallyq-guardian-shares", "version": 1, "guardian_id": "carol", "tally": {"contests": [{"selections": [{}]}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		gs, err := DecodeGuardianShares(bytes.NewReader(data))
		if err != nil {
			return
		}
		out := mustMarshal(t, gs)
		again, err := DecodeGuardianShares(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if !bytes.Equal(mustMarshal(t, again), out) {
			t.Fatal("encoding is not stable")
		}
		if sc.verify(gs) != nil {
			return
		}
		values := map[SharePath]string{}
		for path, s := range sc.shares.Selections() {
			values[path] = s.Share.Share.String()
		}
		for path, s := range gs.Selections() {
			if values[path] != s.Share.Share.String() {
				t.Fatalf("%s: a share that is not the guardian's verifies", path)
			}
		}
	})
}

// BenchmarkGuardianShares computes one guardian's shares of the small 4096-bit fixture
// (tally and spoiled ballots, two guardians compensated for), then verifies them with
// VerifyGuardianShares (batched, all CPUs) and one by one with VerifyShare and VerifyPart,
// and reports the per-proof times and the batched rate against the one-by-one rate
// measured in the same run as "verify-speedup".
func BenchmarkGuardianShares(b *testing.B) {
	fx := loadFixture(b, "small")
	d, err := fx.election.NewDecryptor(fx.guardians, 0)
	if err != nil {
		b.Fatal(err)
	}
	encrypted, err := fx.folder.EncryptedTally()
	if err != nil {
		b.Fatal(err)
	}
	p := fx.private[0]
	missing := []string{fx.private[3].GuardianID, fx.private[4].GuardianID}
	cts := map[SharePath]SelectionCiphertext{}
	objects := map[string][]ContestCiphertexts{}
	if objects[""], err = encrypted.Ciphertexts(standard); err != nil {
		b.Fatal(err)
	}
	for _, ballot := range fx.ballots {
		if ballot.State == BallotSpoiled {
			if objects[ballot.ObjectID], err = ballot.Ciphertexts(standard); err != nil {
				b.Fatal(err)
			}
		}
	}
	for id, o := range objects {
		for _, c := range o {
			for _, s := range c.Selections {
				cts[SharePath{id, c.ObjectID, s.ObjectID}] = s
			}
		}
	}
	var compute, batched, single time.Duration
	proofs := 0
	for b.Loop() {
		start := time.Now()
		gs, err := ComputeGuardianShares(context.Background(), d, p, encrypted, ballotSeq(fx.ballots), missing)
		if err != nil {
			b.Fatal(err)
		}
		computed := time.Now()
		if err := d.VerifyGuardianShares(context.Background(), gs, encrypted, ballotSeq(fx.ballots)); err != nil {
			b.Fatal(err)
		}
		verified := time.Now()
		proofs = 0
		for path, s := range gs.Selections() {
			ct := cts[path].Ciphertext
			if err := d.VerifyShare(path.SelectionID, ct, s.Share); err != nil {
				b.Fatal(err)
			}
			for _, part := range s.CompensatedShares {
				if err := d.VerifyPart(path.SelectionID, ct, part); err != nil {
					b.Fatal(err)
				}
			}
			proofs += 1 + len(s.CompensatedShares)
		}
		compute += computed.Sub(start)
		batched += verified.Sub(computed)
		single += time.Since(verified)
	}
	n := float64(b.N * proofs)
	b.ReportMetric(float64(compute.Microseconds())/n, "µs/proof-compute")
	b.ReportMetric(float64(batched.Microseconds())/n, "µs/proof-verify-batched")
	b.ReportMetric(float64(single.Microseconds())/n, "µs/proof-verify-single")
	b.ReportMetric(float64(single)/float64(batched), "verify-speedup")
}

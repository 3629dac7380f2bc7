package record

import (
	"bytes"

	"github.com/tallyq/tallyq/eg"
)

// CiphertextView is what a tally needs of a compact ballot (EncodeCompact's format): its
// id, its state and its selections' ciphertexts by contest, placeholders included, in
// the ballot's order. A ViewDecoder fills it; it is valid until that decoder's next
// Decode, and its byte slices refer to the data decoded.
type CiphertextView struct {
	ObjectID string
	State    BallotState
	Contests []ContestView
}

// ContestView is one contest of a CiphertextView.
type ContestView struct {
	ObjectID   string
	Selections []SelectionView
}

// SelectionView is one selection's ciphertext: α (pad) and β (data) big-endian in
// Group.PByteLen bytes each, checked to be below p, referring to the data decoded.
type SelectionView struct {
	ObjectID  string
	Pad, Data []byte
}

// ViewDecoder reads compact ballots of one group into a CiphertextView, reusing its
// memory from one ballot to the next, so that reading a ballot allocates (almost)
// nothing: no number is made, and a contest's or selection's id that is the same as the
// previous ballot's is not copied again. It is not safe for concurrent use.
//
// It is DecodeCompact reading the same layout with the same checks, keeping less: it
// accepts exactly what DecodeCompact accepts, refuses the rest with the same
// *CompactError, and the ciphertexts and ids it gives are those of the ballot
// DecodeCompact returns.
type ViewDecoder struct {
	skim    compactSkimmer
	scratch SubmittedBallot // what the layout reads into: the ids; never handed out
	view    CiphertextView
}

// NewViewDecoder returns a decoder of compact ballots encoded for g.
func NewViewDecoder(g *eg.Group) *ViewDecoder {
	base := newCompactBase(g)
	return &ViewDecoder{skim: compactSkimmer{
		compactReader: compactReader{compactBase: base},
		pBound:        base.lay.p.FillBytes(make([]byte, base.lay.pLen)),
		qBound:        base.lay.q.FillBytes(make([]byte, base.lay.qLen)),
	}}
}

// Decode reads data, which must stay unchanged while the view is used. The view is the
// decoder's own and changes at the next Decode.
func (d *ViewDecoder) Decode(data []byte) (*CiphertextView, error) {
	s := &d.skim
	s.start(data)
	s.header()
	d.scratch.compact(s)
	if err := s.finish(); err != nil {
		return nil, err
	}
	b, v := &d.scratch, &d.view
	v.ObjectID, v.State = b.ObjectID, b.State
	v.Contests = resized(v.Contests, len(b.Contests))
	cts := s.cts
	for i := range b.Contests {
		c, vc := &b.Contests[i], &v.Contests[i]
		vc.ObjectID = c.ObjectID
		vc.Selections = resized(vc.Selections, len(c.BallotSelections))
		for j := range c.BallotSelections {
			vc.Selections[j] = SelectionView{ObjectID: c.BallotSelections[j].ObjectID, Pad: cts[0], Data: cts[1]}
			cts = cts[2:]
		}
	}
	return v, nil
}

// compactSkimmer is the compactReader of a ViewDecoder: it checks an element's range
// on its bytes instead of making a number of it, keeps the selections' ciphertexts as
// slices of the data, and reads strings into a scratch ballot without copying one that
// is unchanged. It leaves the scratch ballot's elements unset and its optional parts
// as an earlier ballot left them: nothing reads them.
type compactSkimmer struct {
	compactReader
	pBound, qBound []byte   // p and q, big-endian, as wide as the elements
	cts            [][]byte // each selection's pad and data, in order
}

// start readies the skimmer for a new ballot.
func (s *compactSkimmer) start(data []byte) {
	s.data, s.off, s.err = data, 0, nil
	s.contest, s.selection, s.part = -1, -1, ""
	s.cts = s.cts[:0]
}

func (s *compactSkimmer) str(field string, p *string) {
	if b, ok := s.strBytes(field); ok && *p != string(b) {
		*p = string(b)
	}
}

func (s *compactSkimmer) elemP(field string, _ *Hex) {
	b := s.elemBytes(field, s.pBound, "p")
	if s.err == nil && s.selection >= 0 && s.part == selectionCiphertext {
		s.cts = append(s.cts, b)
	}
}

func (s *compactSkimmer) elemQ(field string, _ *Hex) { s.elemBytes(field, s.qBound, "q") }

// elemBytes reads an element as wide as bound, checking it is below bound (p or q,
// name).
func (s *compactSkimmer) elemBytes(field string, bound []byte, name string) []byte {
	start := s.off
	b := s.bytes(field, len(bound))
	if s.err == nil && bytes.Compare(b, bound) >= 0 {
		s.notBelow(field, start, name)
	}
	return b
}

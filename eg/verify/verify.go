package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"sync"

	"github.com/tallyq/tallyq/eg"
)

// Options tune a verification; the zero value is ready to use.
type Options struct {
	// Group is the group the record must use. Nil: the standard group or the test
	// group, whichever constants.json holds. Passing one group to many verifications
	// shares its precomputed tables.
	Group *eg.Group
	// Workers is how many ballots and decryptions are checked at once; 0 means
	// GOMAXPROCS.
	Workers int
	// MaxProblems bounds the problems kept in the report (the rest are counted in
	// MoreProblems); 0 means 1000.
	MaxProblems int
}

// Dir verifies the election record in the folder dir; see Record. It returns an error
// when dir is not a folder.
func Dir(ctx context.Context, dir string, opts Options) (*Report, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("verify: %s is not an election record folder: %w", dir, cmp.Or(err, errors.New("not a folder")))
	}
	return Record(ctx, os.DirFS(dir), opts)
}

// Record verifies an ElectionGuard 0.95 election record: the constants, the manifest
// hash and the context's hashes and joint key; every guardian's key proofs; every
// submitted ballot (structure against the manifest, subgroup membership, crypto hashes,
// tracking codes and their chain from the encryption devices, selection and contest
// proofs); that the encrypted tally is the product of the cast ballots; and the
// decryption of the tally and of every spoiled ballot (each share's proof, each
// compensated share's proof and recovery key, the reconstruction of missing guardians'
// shares, coefficients.json, g^t = B / ∏ M_i and the counts).
//
// Ballots are read one at a time by Options.Workers goroutines; memory grows with the
// number of ballots only by their ids, file names and codes (for duplicates and the
// code chain), a couple of hundred bytes each.
// Ballots of invalid_ballots/ are checked too but not counted; one that passes every
// check is a warning. Every defect of the record is a Problem in the report; the error
// is non-nil only when ctx ends first.
func Record(ctx context.Context, fsys fs.FS, opts Options) (*Report, error) {
	v := &run{fsys: fsys, workers: opts.Workers, ps: &problems{limit: opts.MaxProblems}}
	if v.workers <= 0 {
		v.workers = runtime.GOMAXPROCS(0)
	}
	if v.ps.limit <= 0 {
		v.ps.limit = 1000
	}
	v.report = &Report{}
	if err := v.verify(ctx, opts.Group); err != nil {
		return nil, err
	}
	v.report.Problems, v.report.MoreProblems, v.report.Warnings = v.ps.list, v.ps.more, v.ps.warnings
	return v.report, nil
}

// run is one verification in progress.
type run struct {
	fsys    fs.FS
	workers int
	ps      *problems
	report  *Report
	e       *election

	tally   *tallyAccumulator
	spoiled map[string]string // spoiled ballot id → its file
	// encrypted is encrypted_tally.json's ciphertexts by contest and selection id.
	encrypted map[string]map[string]ciphertext
	recovery  recoveryKeys
}

func (v *run) verify(ctx context.Context, group *eg.Group) error {
	v.e = loadElection(v.fsys, group, v.ps)
	if v.e == nil {
		return ctx.Err()
	}
	e := v.e
	v.report.Group, v.report.Guardians, v.report.Quorum = e.g.Name(), e.n, e.quorum
	v.recovery = recoveryKeys{e: e, keys: map[[2]string]*eg.FixedBase{}}
	if err := v.checkBallots(ctx); err != nil {
		return err
	}
	v.checkEncryptedTally()
	if err := v.checkTally(ctx); err != nil {
		return err
	}
	return v.checkSpoiledBallots(ctx)
}

// forEach runs fn(i) for i in [0, n) on the run's workers; it stops early when ctx
// ends and returns ctx's error then.
func (v *run) forEach(ctx context.Context, n int, fn func(i int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(v.workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}

// sortedKeys returns a map's keys in order, so problems come out in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listFiles lists a folder's .json files, reporting a folder that cannot be read.
func (v *run) listFiles(dir string) []string {
	files, err := jsonFiles(v.fsys, dir)
	if err != nil {
		v.ps.addf(CheckRead, dir, "", "%v", err)
	}
	return files
}

package verify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzRecordDocument replaces one document of the tiny record with arbitrary bytes:
// the verifier must report problems, never panic, hang or fail to return a report.
func FuzzRecordDocument(f *testing.F) {
	record := tinyRecord(f)
	names := make([]string, 0, len(record))
	for name := range record {
		names = append(names, name)
	}
	slices.Sort(names)
	// The seeds are the documents themselves, unchanged and with one element changed.
	for i, name := range names {
		data := string(record[name].Data)
		f.Add(uint8(i), data)
		f.Add(uint8(i), strings.Replace(data, `{"data":"`, `{"data":"1`, 1))
	}
	f.Fuzz(func(t *testing.T, which uint8, data string) {
		changed := fstest.MapFS{}
		for k, v := range record {
			changed[k] = v
		}
		changed[names[int(which)%len(names)]] = &fstest.MapFile{Data: []byte(data)}
		r, err := Record(context.Background(), changed, Options{Workers: 2})
		if err != nil || r == nil {
			t.Fatalf("Record: %v, %v", r, err)
		}
	})
}

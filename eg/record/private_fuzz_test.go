package record_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/synth"
)

// canary marks the text a fuzzed private record holds where a value was.
const canary = "c4n4ry"

// FuzzPrivateGuardianErrorsQuoteNothing puts text, as a string, an element
// object, an array or an object, in place of any value of a real private
// record, objects and arrays too (ids aside, which errors name on purpose) and decodes it: an error
// must never quote that text, which in a real record could be a secret.
func FuzzPrivateGuardianErrorsQuoteNothing(f *testing.F) {
	el, err := synth.NewElection(eg.TestGroup(), synth.Options{})
	if err != nil {
		f.Fatal(err)
	}
	raw, err := json.Marshal(el.Ceremony.Private[0])
	if err != nil {
		f.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		f.Fatal(err)
	}
	paths := leafPaths(doc, nil)
	for i := range 8 {
		f.Add(uint(i*7), "DEADBEEF", uint8(i))
	}
	f.Fuzz(func(t *testing.T, pick uint, text string, shape uint8) {
		if !utf8.ValidString(text) {
			return
		}
		text = canary + text
		var copied any
		_ = json.Unmarshal(raw, &copied)
		values := []any{text, map[string]any{"data": text}, []any{text}, map[string]any{text: text}}
		setPath(copied, paths[pick%uint(len(paths))], values[int(shape)%len(values)])
		b, err := json.Marshal(copied)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := record.DecodePrivateGuardian(bytes.NewReader(b)); err != nil && strings.Contains(err.Error(), canary) {
			t.Fatalf("the error quotes the record: %v", err)
		}
	})
}

// leafPaths lists the paths of doc's values, objects and arrays included,
// ids and doc itself aside.
func leafPaths(doc any, path []any) [][]any {
	var out [][]any
	if len(path) > 0 {
		out = append(out, path)
	}
	switch v := doc.(type) {
	case map[string]any:
		for k, x := range v {
			if !strings.HasSuffix(k, "_id") {
				out = append(out, leafPaths(x, append(append([]any{}, path...), k))...)
			}
		}
	case []any:
		for i, x := range v {
			out = append(out, leafPaths(x, append(append([]any{}, path...), i))...)
		}
	}
	return out
}

// setPath replaces the value at path in doc.
func setPath(doc any, path []any, value any) {
	for i, step := range path {
		last := i == len(path)-1
		switch k := step.(type) {
		case string:
			m := doc.(map[string]any)
			if last {
				m[k] = value
				return
			}
			doc = m[k]
		case int:
			s := doc.([]any)
			if last {
				s[k] = value
				return
			}
			doc = s[k]
		}
	}
}

package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTarGzRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewTarGzWriter(&buf, "election_record")
	for name, data := range map[string]string{"context.json": "{}", "guardians/guardian_1.json": `{"a":1}`} {
		if err := w.Put(name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Extract(&buf, dir, 1<<20); err != nil {
		t.Fatal(err)
	}
	root, err := FindRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if root != filepath.Join(dir, "election_record") {
		t.Fatalf("record found at %s", root)
	}
	got, err := os.ReadFile(filepath.Join(root, "guardians", "guardian_1.json"))
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("extracted %q, %v", got, err)
	}
}

func TestExtractRefuses(t *testing.T) {
	tarOf := func(name, data string) []byte {
		var buf bytes.Buffer
		w := NewTarGzWriter(&buf, "")
		if err := w.Put(name, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		limit int64
		want  string
	}{
		{"escape", tarOf("../evil.json", "{}"), 1 << 20, "points outside the archive"},
		{"too big", tarOf("context.json", strings.Repeat("x", 100)), 10, "more than the limit"},
		{"not an archive", []byte("hello world"), 1 << 20, "not a .tar.gz or .zip"},
		{"empty", nil, 1 << 20, "cannot read"},
	} {
		err := Extract(bytes.NewReader(tc.data), t.TempDir(), tc.limit)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := FindRecord(t.TempDir()); !errors.Is(err, ErrInvalid) {
		t.Errorf("FindRecord of an empty folder: %v", err)
	}
}

// A folder named context.json is not a record's context: FindRecord looks
// on for a file of that name.
func TestFindRecordSkipsAFolderNamedContext(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"context.json/a", "record"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "record", "context.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if root, err := FindRecord(dir); err != nil || root != filepath.Join(dir, "record") {
		t.Fatalf("FindRecord = %q, %v; want the folder holding the file context.json", root, err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "record")); err != nil {
		t.Fatal(err)
	}
	if _, err := FindRecord(dir); !errors.Is(err, ErrInvalid) {
		t.Errorf("FindRecord with only a folder named context.json: %v, want ErrInvalid", err)
	}
}

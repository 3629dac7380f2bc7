package archive

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtract unpacks arbitrary bytes: no panic, and nothing is written
// outside the target folder.
func FuzzExtract(f *testing.F) {
	var tgz bytes.Buffer
	w := NewTarGzWriter(&tgz, "election_record")
	_ = w.Put("context.json", []byte("{}"))
	_ = w.Put("guardians/guardian_1.json", []byte(`{"a":1}`))
	_ = w.Close()
	f.Add(tgz.Bytes())
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	fw, _ := zw.Create("election_record/context.json")
	_, _ = fw.Write([]byte("{}"))
	_ = zw.Close()
	f.Add(zb.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = Extract(bytes.NewReader(data), dir, 64<<10)
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "out" {
				t.Fatalf("an entry was written outside the target folder: %s", e.Name())
			}
		}
		_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !info.Mode().IsRegular() {
				t.Fatalf("%s is not a regular file", strings.TrimPrefix(path, dir))
			}
			return nil
		})
	})
}

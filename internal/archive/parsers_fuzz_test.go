package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzExtractEntries unpacks well-formed .tar.gz and .zip archives of
// arbitrary entry names and contents (what FuzzExtract's random bytes
// rarely reach). Extract writes into a writable directory, so every error
// it returns is about the archive and must wrap ErrInvalid, which the API
// answers 400 (anything else is a 500); an archive it accepts unpacks to
// exactly its entries, each with its content; FindRecord finds a folder
// inside with a context.json, or says why not with ErrInvalid. An archive
// TarGzWriter writes unpacks to the files put in it.
func FuzzExtractEntries(f *testing.F) {
	for _, s := range []struct {
		names  string
		data   string
		format uint8
	}{
		{"election_record/context.json\nelection_record/manifest.json\nelection_record/guardians/guardian_1.json", "{}", 0},
		{"record/context.json\nrecord/submitted_ballots/b1.json", `{"object_id":"b1"}`, 1},
		{"context.json\nguardians/guardian_1.json\nguardians/guardian_2.json", `{"a":1}`, 2},
		{"./context.json\na//b.json\nc/./d.json", "x", 0},
		{".//b.json\nc/.\x80d.json", "x", 0}, // once unpacked to b.json, expected at /b.json
		{"../escape.json", "x", 0},
		{"/etc/passwd", "x", 1},
		{`dir\file.json`, "x", 1},
		{"dup.json\ndup.json", "x", 0},
		{"dir/\ndir/context.json", "{}", 1},
		{"", "x", 0},
		{"big.json", strings.Repeat("x", 70<<10), 0},
	} {
		f.Add(s.names, []byte(s.data), s.format)
	}
	f.Fuzz(func(t *testing.T, names string, data []byte, format uint8) {
		list := strings.Split(names, "\n")
		if len(list) > 16 {
			list = list[:16]
		}
		var buf bytes.Buffer
		want := map[string][]byte{} // the files the archive should unpack to
		switch format % 3 {
		case 0: // .tar.gz of regular files
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			for _, name := range list {
				if tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}) != nil {
					return // tar cannot write the name
				}
				if _, err := tw.Write(data); err != nil {
					t.Fatal(err)
				}
				want[entryPath(name)] = data
			}
			if err := errors.Join(tw.Close(), zw.Close()); err != nil {
				t.Fatal(err)
			}
		case 1: // .zip; names ending in / are folders
			zw := zip.NewWriter(&buf)
			for _, name := range list {
				w, err := zw.Create(name)
				if err != nil {
					return
				}
				if strings.HasSuffix(name, "/") {
					continue
				}
				if _, err := w.Write(data); err != nil {
					t.Fatal(err)
				}
				want[entryPath(name)] = data
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
		default: // TarGzWriter, as GET /api/elections/{id}/record writes
			w := NewTarGzWriter(&buf, "election-1")
			var put []string
			for _, name := range list {
				if !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) || len(name) > 200 || strings.ContainsRune(name, 0) ||
					slices.ContainsFunc(put, func(p string) bool {
						return p == name || strings.HasPrefix(p, name+"/") || strings.HasPrefix(name, p+"/")
					}) {
					continue // not a file name of a record the writer is given
				}
				put = append(put, name)
				if w.Put(name, data) != nil {
					return
				}
				want[path.Join("election-1", name)] = data
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(t.TempDir(), "out")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		const limit = 64 << 10
		err := Extract(bytes.NewReader(buf.Bytes()), dir, limit)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("entries %q: Extract: %v, not an ErrInvalid (the API answers it 500)", list, err)
			}
			if format%3 == 2 && len(data)*len(want) <= limit && len(want) > 0 {
				t.Fatalf("entries %q: TarGzWriter's archive refused: %v", list, err)
			}
			return
		}
		got := map[string][]byte{}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !d.Type().IsRegular() {
				t.Fatalf("entries %q: %s is not a regular file", list, p)
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("entries %q unpack to %d files, want %d: %q", list, len(got), len(want), keys(got))
		}
		for name, content := range want {
			if !bytes.Equal(got[name], content) {
				t.Fatalf("entries %q: %s holds %d bytes, want %d", list, name, len(got[name]), len(content))
			}
		}

		root, err := FindRecord(dir)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("entries %q: FindRecord: %v, not an ErrInvalid", list, err)
			}
			return
		}
		rel, err := filepath.Rel(dir, root)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("entries %q: FindRecord = %s, outside %s", list, root, dir)
		}
		if _, ok := got[path.Join(filepath.ToSlash(rel), "context.json")]; !ok {
			t.Fatalf("entries %q: FindRecord = %s, which has no context.json", list, rel)
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

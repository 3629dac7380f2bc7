// Package archive moves election record folders in and out of archives:
// it unpacks an uploaded .tar.gz or .zip into a directory, refusing entries
// that would land outside it or exceed a size limit, finds the record folder
// inside, and writes a record as a .tar.gz stream.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrInvalid wraps every error about the archive's content (as opposed to
// failing to write the directory).
var ErrInvalid = errors.New("invalid archive")

// MaxEntries bounds the number of files an archive may hold.
const MaxEntries = 10_000_000

// Extract unpacks a .tar.gz or .zip archive (recognised by its first bytes)
// into dir, writing at most maxBytes of file content.
func Extract(r io.Reader, dir string, maxBytes int64) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("%w: cannot read the archive's first bytes: %v", ErrInvalid, err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return extractTarGz(br, dir, maxBytes)
	case bytes.Equal(magic, []byte("PK\x03\x04")):
		return extractZip(br, dir, maxBytes)
	}
	return fmt.Errorf("%w: not a .tar.gz or .zip archive", ErrInvalid)
}

func extractTarGz(r io.Reader, dir string, maxBytes int64) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: gzip: %v", ErrInvalid, err)
	}
	tr := tar.NewReader(zr)
	budget := &budget{left: maxBytes}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: tar: %v", ErrInvalid, err)
		}
		if n >= MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrInvalid, MaxEntries)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue // directories are made for the files in them
		case tar.TypeReg:
			if err := writeEntry(dir, h.Name, tr, budget); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: entry %q is not a regular file or directory", ErrInvalid, h.Name)
		}
	}
}

func extractZip(r io.Reader, dir string, maxBytes int64) error {
	// zip needs random access: spool it to a file first, within the limit.
	spool, err := os.CreateTemp(dir, ".upload-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	n, err := io.Copy(spool, io.LimitReader(r, maxBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading the upload: %v", ErrInvalid, err)
	}
	if n > maxBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrInvalid, maxBytes)
	}
	zr, err := zip.NewReader(spool, n)
	if err != nil {
		return fmt.Errorf("%w: zip: %v", ErrInvalid, err)
	}
	if len(zr.File) > MaxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrInvalid, MaxEntries)
	}
	budget := &budget{left: maxBytes}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if !f.Mode().IsRegular() {
			return fmt.Errorf("%w: entry %q is not a regular file", ErrInvalid, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%w: entry %q: %v", ErrInvalid, f.Name, err)
		}
		err = writeEntry(dir, f.Name, rc, budget)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// budget is what is left of the size limit.
type budget struct{ left int64 }

// entryPath is where an entry's file goes, relative to the directory: its
// name cleaned, without the "./" (and "/" after it) tar writes first.
func entryPath(name string) string {
	return path.Clean(strings.TrimLeft(strings.TrimPrefix(name, "./"), "/"))
}

// writeEntry writes one file under dir, refusing names that leave it.
func writeEntry(dir, name string, r io.Reader, b *budget) error {
	clean := entryPath(name)
	if name == "" || path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(name, `\`) {
		return fmt.Errorf("%w: entry %q points outside the archive", ErrInvalid, name)
	}
	target := filepath.Join(dir, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return badEntry(name, err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: entry %q appears twice", ErrInvalid, name)
		}
		return badEntry(name, err)
	}
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(r, b.left+1))
	if err != nil {
		return fmt.Errorf("%w: entry %q: %v", ErrInvalid, name, err)
	}
	if b.left -= n; b.left < 0 {
		return fmt.Errorf("%w: its files add up to more than the limit", ErrInvalid)
	}
	return f.Close()
}

// FindRecord returns the directory under dir that holds an election record
// (its context.json): dir itself or the shallowest folder below it.
func FindRecord(dir string) (string, error) {
	queue := []string{dir}
	for depth := 0; depth < 4 && len(queue) > 0; depth++ {
		var next []string
		for _, d := range queue {
			// A folder named context.json (an entry "context.json/a") is
			// not the record's context.
			if fi, err := os.Lstat(filepath.Join(d, "context.json")); err == nil && fi.Mode().IsRegular() {
				return d, nil
			}
			entries, err := os.ReadDir(d)
			if err != nil {
				return "", err
			}
			for _, e := range entries {
				if e.IsDir() {
					next = append(next, filepath.Join(d, e.Name()))
				}
			}
		}
		queue = next
	}
	return "", fmt.Errorf("%w: no context.json in the archive; upload the election record folder (manifest.json, context.json, constants.json, guardians/, submitted_ballots/)", ErrInvalid)
}

// TarGzWriter writes files into a .tar.gz stream under a top folder.
type TarGzWriter struct {
	gz   *gzip.Writer
	tw   *tar.Writer
	root string
	now  time.Time
}

// NewTarGzWriter starts a .tar.gz stream on w whose files sit under root/.
func NewTarGzWriter(w io.Writer, root string) *TarGzWriter {
	gz := gzip.NewWriter(w)
	return &TarGzWriter{gz: gz, tw: tar.NewWriter(gz), root: root, now: time.Now().UTC().Truncate(time.Second)}
}

// Put adds one file, name being slash-separated and relative to the root.
func (t *TarGzWriter) Put(name string, data []byte) error {
	h := &tar.Header{Name: path.Join(t.root, name), Mode: 0o644, Size: int64(len(data)), ModTime: t.now, Typeflag: tar.TypeReg}
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

// Close ends the archive.
func (t *TarGzWriter) Close() error {
	return errors.Join(t.tw.Close(), t.gz.Close())
}

// badEntry reports an entry whose name no file can have here (a file where
// a folder is, a NUL, a name too long) as the archive's fault; other
// failures are the server's.
func badEntry(name string, err error) error {
	for _, errno := range []syscall.Errno{syscall.ENOTDIR, syscall.EISDIR, syscall.EEXIST, syscall.EINVAL, syscall.ENAMETOOLONG} {
		if errors.Is(err, errno) {
			return fmt.Errorf("%w: entry %q cannot be written as a file: %v", ErrInvalid, name, errno)
		}
	}
	return err
}

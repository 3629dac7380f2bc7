package main

import "testing"

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1 << 20},
		{"256MiB", 256 << 20},
		{"256mib", 256 << 20},
		{"1GiB", 1 << 30},
		{"1.5GiB", 3 << 29},
		{"512MB", 512_000_000},
		{"64KiB", 64 << 10},
		{"2K", 2 << 10},
		{"3M", 3 << 20},
		{"1T", 1 << 40},
		{" 10 GB ", 10_000_000_000},
		{"100B", 100},
	} {
		got, err := parseByteSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseByteSizeRejects(t *testing.T) {
	for _, in := range []string{"", "MiB", "-1MiB", "12XB", "1..5GiB", "9999999999999TiB", "1e9", "lots"} {
		if got, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0B"}, {256 << 20, "256MiB"}, {1 << 30, "1GiB"}, {1536, "1536B"}, {512_000_000, "500000KiB"}} {
		if got := formatByteSize(tc.in); got != tc.want {
			t.Errorf("formatByteSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := parseByteSize(formatByteSize(tc.in)); err != nil || back != tc.in {
			t.Errorf("round trip of %d gave %d, %v", tc.in, back, err)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"256MiB", "1.5GiB", "512MB", "1048576", "-1", ".5k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err == nil && n < 0 {
			t.Fatalf("parseByteSize(%q) = %d, a negative size", s, n)
		}
	})
}

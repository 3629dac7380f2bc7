package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// unitSize returns the size in bytes of a unit suffix, in any case. Both
// decimal (MB = 10⁶) and binary (MiB = 2²⁰) units are accepted, since
// people write both; single letters are binary.
func unitSize(unit string) (float64, bool) {
	switch strings.ToLower(unit) {
	case "", "b":
		return 1, true
	case "k", "kib":
		return 1 << 10, true
	case "m", "mib":
		return 1 << 20, true
	case "g", "gib":
		return 1 << 30, true
	case "t", "tib":
		return 1 << 40, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	}
	return 0, false
}

// parseByteSize parses a size such as "256MiB", "1GiB", "512MB", "1.5GiB"
// or "1048576" (bytes). Single letters (K, M, G, T) are binary units.
func parseByteSize(s string) (int64, error) {
	trimmed := strings.TrimSpace(s)
	i := strings.IndexFunc(trimmed, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	number, unit := trimmed, ""
	if i >= 0 {
		number, unit = trimmed[:i], strings.TrimSpace(trimmed[i:])
	}
	mult, ok := unitSize(unit)
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB", s, unit)
	}
	if number == "" {
		return 0, fmt.Errorf("size %q: no number; write e.g. 256MiB", s)
	}
	if !strings.Contains(number, ".") {
		n, err := strconv.ParseInt(number, 10, 64)
		if err == nil && (mult == 1 || n <= math.MaxInt64/int64(mult)) {
			return n * int64(mult), nil
		}
	}
	f, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %q is not a number", s, number)
	}
	bytes := math.Round(f * mult)
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(bytes), nil
}

// formatByteSize writes n in the largest binary unit that divides it.
func formatByteSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// byteSize is a flag.Value holding a size in bytes.
type byteSize int64

func (b *byteSize) String() string {
	if b == nil {
		return ""
	}
	return formatByteSize(int64(*b))
}

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

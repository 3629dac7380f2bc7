package brokertest

import (
	"regexp"
	"strings"
	"testing"
)

// The pattern a worker process runs with selects the test that called Run,
// at every level, and nothing beside it.
func TestRunPattern(t *testing.T) {
	for _, c := range []struct {
		name   string
		match  []string
		reject []string
	}{
		{"TestConformance", []string{"TestConformance"}, []string{"TestConformanceX", "XTestConformance"}},
		{"TestBrokers/river(fast)", []string{"TestBrokers/river(fast)"}, []string{"TestBrokers/river", "TestBrokers2/river(fast)"}},
	} {
		levels := strings.Split(runPattern(c.name), "/")
		matches := func(name string) bool {
			parts := strings.Split(name, "/")
			if len(parts) != len(levels) {
				return false
			}
			for i, p := range parts {
				if !regexp.MustCompile(levels[i]).MatchString(p) {
					return false
				}
			}
			return true
		}
		for _, n := range c.match {
			if !matches(n) {
				t.Errorf("runPattern(%q) = %q does not select %q", c.name, runPattern(c.name), n)
			}
		}
		for _, n := range c.reject {
			if matches(n) {
				t.Errorf("runPattern(%q) = %q selects %q", c.name, runPattern(c.name), n)
			}
		}
	}
}

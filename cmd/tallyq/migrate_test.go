package main

import (
	"strings"
	"testing"
)

func TestSplitWord(t *testing.T) {
	flags, action, err := splitWord([]string{"--log-level", "debug", "version", "--yes"}, "up", "down", "version")
	if err != nil || action != "version" || strings.Join(flags, " ") != "--log-level debug --yes" {
		t.Errorf("got %q, %q, %v", flags, action, err)
	}
}

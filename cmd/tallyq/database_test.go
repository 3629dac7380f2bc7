package main

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://tallyq:s3cret@db:5432/tallyq?sslmode=disable", "postgres://tallyq:xxxxx@db:5432/tallyq?sslmode=disable"},
		{"postgres://tallyq@db/tallyq", "postgres://tallyq@db/tallyq"},
		{"postgresql://db/tallyq?user=u&password=s3cret", "postgresql://db/tallyq?password=xxxxx&user=u"},
		{"host=db user=u password=s3cret dbname=tallyq", "host=db user=u password=xxxxx dbname=tallyq"},
		{"host=db password = 's3 cret' sslpassword=s3cret", "host=db password = xxxxx sslpassword=xxxxx"},
		{"postgres://u:s3cret@db:port/x", "postgres://(unparsable URL not shown)"},
	} {
		got := redactURL(tc.in)
		if got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "cret'") {
			t.Errorf("redactURL(%q) = %q still shows the password", tc.in, got)
		}
	}
}

func TestSplitAction(t *testing.T) {
	flags, action, err := splitAction([]string{"--log-level", "debug", "version", "--yes"})
	if err != nil || action != "version" || strings.Join(flags, " ") != "--log-level debug --yes" {
		t.Errorf("got %q, %q, %v", flags, action, err)
	}
}

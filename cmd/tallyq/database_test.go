package main

import (
	"net/url"
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

func FuzzRedactURL(f *testing.F) {
	f.Add("tallyq", "s3cret-pw", "db:5432", "tallyq")
	f.Add("u", "p@ss:w/rd?x", "[::1]:5432", "x")
	f.Fuzz(func(t *testing.T, user, password, host, dbname string) {
		if len(password) < 6 || strings.Contains(user+host+dbname+"postgres xxxxx", password) {
			return // too short or too common to tell apart from the rest
		}
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + dbname}
		escaped := url.UserPassword("", password).String()[1:] // as it stands in a URL
		if got := redactURL(u.String()); strings.Contains(got, password) || strings.Contains(got, escaped) {
			t.Fatalf("redactURL(%q) = %q shows the password", u.String(), got)
		}
		if strings.ContainsAny(password, " '\\\t\n\r\v\f") {
			return // keyword/value passwords with these need quoting
		}
		kv := "host=h password=" + password + " dbname=d"
		if got := redactURL(kv); strings.Contains(got, password) {
			t.Fatalf("redactURL(%q) = %q shows the password", kv, got)
		}
	})
}

package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/secretscan"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://tallyq:s3cret@db:5432/tallyq?sslmode=disable", "postgres://tallyq:xxxxx@db:5432/tallyq?sslmode=disable"},
		{"postgres://tallyq@db/tallyq", "postgres://tallyq@db/tallyq"},
		{"postgresql://db/tallyq?user=u&password=s3cret", "postgresql://db/tallyq?password=xxxxx&user=u"},
		{"host=db user=u password=s3cret dbname=tallyq", "host=db user=u password=xxxxx dbname=tallyq"},
		{"host=db password = 's3 cret' sslpassword=s3cret", "host=db password = xxxxx sslpassword=xxxxx"},
		{"postgres://u:s3cret@db:port/x", "postgres://(unparsable URL not shown)"},
		{"postgres://:s3cret:/x@db/x", "postgres://(URL not shown: its '@' comes after the host; percent-encode '/', '?' and '#' in the password)"},
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
	// A password whose escaped form also stands in the escaped user name.
	f.Add("0 00 000   ", "000 00", "0", "0")
	// Written unescaped, a '/' ends the authority: the host holds the start.
	f.Add("", "abc123:/x", "db", "x")
	f.Fuzz(func(t *testing.T, user, password, host, dbname string) {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + dbname}
		escaped := url.UserPassword("", password).String()[1:] // as it stands in a URL
		withoutPassword := url.URL{Scheme: "postgres", User: url.User(user), Host: host, Path: "/" + dbname}
		rest := withoutPassword.String() + " xxxxx"
		if len(password) < 6 || strings.Contains(rest, password) || strings.Contains(rest, escaped) {
			return // too short, or standing elsewhere in the URL too, to tell apart
		}
		if got := redactURL(u.String()); strings.Contains(got, password) || strings.Contains(got, escaped) {
			t.Fatalf("redactURL(%q) = %q shows the password", u.String(), got)
		}
		// As an operator writes it, without escaping.
		written := "postgres://" + user + ":" + password + "@" + host + "/" + dbname
		if part := secretscan.ShownPasswordPart(written, password, redactURL(written)); part != "" {
			t.Fatalf("redactURL(%q) = %q shows %q of the password", written, redactURL(written), part)
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

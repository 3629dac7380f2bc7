// Package rawurl reads URLs as operators write them, before any parser
// decides what their parts are: a password pasted unescaped can end a URL's
// authority early and leave the rest, password and all, in what the parser
// calls its host, path, query or fragment.
package rawurl

import "strings"

// AtAfterAuthority reports whether raw, a URL, has an '@' after the end of
// its authority (the first '/', '?' or '#' after "//"), as when a password
// or user name holds one of those characters unescaped. Parsed, such a URL
// names the wrong user and host, and showing any part of it may show the
// password.
func AtAfterAuthority(raw string) bool {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return false
	}
	end := strings.IndexAny(rest, "/?#")
	return end >= 0 && strings.Contains(rest[end:], "@")
}

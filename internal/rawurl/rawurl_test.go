package rawurl_test

import (
	"testing"

	"github.com/tallyq/tallyq/internal/rawurl"
)

func TestAtAfterAuthority(t *testing.T) {
	for raw, want := range map[string]bool{
		"postgres://u:pw@db:5432/tallyq": false,
		"amqp://u:p%2Fw@rabbit/":         false,
		"postgres://db/tallyq?user=u":    false,
		"host=db user=u password=p@ss":   false, // keyword/value, not a URL
		"postgres://:s3cret:/x@db/x":     true,  // '/' in the password
		"amqp://u:pa?ss@rabbit/":         true,  // '?' in the password
		"postgres://@#user:s3cret@db/x":  true,  // '#' in the user
		"amqp://u:pw@rabbit/v@host":      true,  // '@' in the vhost
		"postgres://u:pw@db/x#frag":      false,
	} {
		if got := rawurl.AtAfterAuthority(raw); got != want {
			t.Errorf("AtAfterAuthority(%q) = %v, want %v", raw, got, want)
		}
	}
}

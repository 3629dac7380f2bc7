package rabbitmq

import (
	"math"
	"net/url"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tallyq/tallyq/internal/secretscan"
	"github.com/tallyq/tallyq/queue"
)

// checkDecoded decodes body as the consumer does and checks what it
// accepts; it returns the chunks, nil when refused.
func checkDecoded(t *testing.T, body []byte) []queue.Message {
	t.Helper()
	ms, err := decode(amqp.Delivery{Body: body})
	if err != nil {
		if ms != nil || err.Error() == "" {
			t.Fatalf("decode(%q) = %v, %v", body, ms, err)
		}
		return nil
	}
	if len(ms) < 1 || len(ms) > maxChunksPerMessage {
		t.Fatalf("decode(%q) = %d chunks", body, len(ms))
	}
	for i, m := range ms {
		if m.JobID == [16]byte{} || m.Operation == "" || m.JobID != ms[0].JobID || m.Operation != ms[0].Operation ||
			m.Chunk != ms[0].Chunk+i || m.Chunk < 0 || m.Chunk >= math.MaxInt32 {
			t.Fatalf("decode(%q): chunk %d of %d is %+v: not consecutive chunks of one job, numbered from 0 to below 2^31-1", body, i, len(ms), m)
		}
	}
	return ms
}

// FuzzCheckURL checks the AMQP URLs of --amqp-url: what it refuses it
// explains without showing the password; what it accepts parses to the
// same user, password and host; the default guest account is refused but
// on a loopback host.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []struct{ user, password, host, vhost, raw string }{
		{"tallyq", "s3cr3t-Passw0rd", "rabbitmq:5672", "/", "amqp://tallyq:s3cr3t-Passw0rd@rabbitmq:5672/"},
		{"guest", "guest", "localhost", "", "amqp://guest:guest@localhost:5672/"},
		{"guest", "guest", "rabbit.example", "prod", "amqp://guest:guest@10.0.0.5/"},
		{"u", "p@ss/w0rd#x", "[::1]:5671", "v", "amqps://u:p%40ss@[::1]:5671/v"},
		{"u", "Pa55word99", "host:port", "", "amqp://u:Pa55word99@host:port/"},
		{"u", "Pa55 word", "h", "", "http://u:p@h/"},
		{"", "", "", "", ""},
		{"u", "Tr1cky%zzPass", "h", "", "amqp://u:Tr1cky%zzPass@h/"},
	} {
		f.Add(s.user, s.password, s.host, s.vhost, s.raw)
	}
	f.Fuzz(func(t *testing.T, user, password, host, vhost, raw string) {
		// A URL from anywhere, whose password is what stands between ':'
		// and '@' in its authority.
		checkURLSecret(t, raw, secretscan.URLPassword(raw))
		// A URL made of parts, as an operator writes it: user:password
		// without escaping, as people do.
		written := "amqp://" + user + ":" + password + "@" + host + "/" + vhost
		checkURLSecret(t, written, password)
		u := url.URL{Scheme: "amqp", User: url.UserPassword(user, password), Host: host, Path: "/" + vhost}
		uri, err := checkURL(u.String())
		if err != nil {
			checkURLSecret(t, u.String(), password)
			return
		}
		if uri.Username != user || uri.Password != password {
			t.Fatalf("checkURL(%q) reads user %q password %q, not %q %q", u.String(), uri.Username, uri.Password, user, password)
		}
		if user == "guest" && password == "guest" && !isLoopback(uri.Host) {
			t.Fatalf("checkURL(%q) accepts guest/guest on %q", u.String(), uri.Host)
		}
	})
}

// checkURLSecret fails if checkURL's error for raw shows a part of its
// password that looks like a secret: a run of 6 or more letters and digits
// holding both, which stands nowhere else in the URL.
func checkURLSecret(t *testing.T, raw, password string) {
	t.Helper()
	_, err := checkURL(raw)
	if err == nil {
		return
	}
	if strings.TrimSpace(err.Error()) == "" {
		t.Fatalf("checkURL(%q): an empty error", raw)
	}
	if part := secretscan.ShownPasswordPart(raw, password, err.Error()); part != "" {
		t.Fatalf("checkURL(%q): error %q shows %q of the password %q", raw, err, part, password)
	}
}

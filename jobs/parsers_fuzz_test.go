package jobs

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzDecodeCursor reads the "after" cursors of GET /api/jobs, which
// clients send back: a cursor the engine issued decodes to its job's
// creation time and id; any other decodes or is refused with an error
// wrapping ErrInvalid (the API's 400), and what decodes issues a cursor
// that decodes to the same again.
func FuzzDecodeCursor(f *testing.F) {
	id := uuid.MustParse("01a21fac-d44a-7924-9ed3-d601208bd170")
	at := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
	for _, s := range []string{
		encodeCursor(at, id),
		encodeCursor(time.Unix(0, 0), uuid.Nil),
		"",
		"not a cursor!",
		base64.RawURLEncoding.EncodeToString([]byte("2026-03-14T15:09:26Z")),
		base64.RawURLEncoding.EncodeToString([]byte("2026-03-14T15:09:26+02:00|" + id.String())),
		base64.RawURLEncoding.EncodeToString([]byte("yesterday|" + id.String())),
		base64.RawURLEncoding.EncodeToString([]byte("2026-03-14T15:09:26Z|{" + id.String() + "}")),
		base64.StdEncoding.EncodeToString([]byte("2026-03-14T15:09:26Z|" + id.String())),
	} {
		f.Add(s, at.UnixNano(), id[:])
	}
	f.Fuzz(func(t *testing.T, cursor string, nanos int64, idBytes []byte) {
		// A cursor the engine issues for a job.
		var job uuid.UUID
		copy(job[:], idBytes)
		created := time.Unix(0, nanos)
		c := encodeCursor(created, job)
		gotAt, gotID, err := decodeCursor(c)
		if err != nil || !gotAt.Equal(created) || gotID != job {
			t.Fatalf("the cursor %q of %s, %s decodes to %s, %s, %v", c, created, job, gotAt, gotID, err)
		}
		if strings.ContainsAny(c, "+/=&?#% ") {
			t.Fatalf("the cursor %q does not go in a query string as it is", c)
		}

		// A cursor from a client.
		at, id, err := decodeCursor(cursor)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || err.Error() == ErrInvalid.Error() {
				t.Fatalf("decodeCursor(%q): %v, not an ErrInvalid saying which cursor", cursor, err)
			}
			return
		}
		if y := at.UTC().Year(); y < 1 || y > 9999 {
			return // RFC 3339 cannot write it; no job was created then
		}
		again := encodeCursor(at, id)
		at2, id2, err := decodeCursor(again)
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf("decodeCursor(%q) = %s, %s, whose cursor %q decodes to %s, %s, %v", cursor, at, id, again, at2, id2, err)
		}
	})
}

package main

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/api"
	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/testdb"
)

// tallyq token create prints a token once and stores only its SHA-256;
// list shows the tokens without them; revoke ends one; wrong requests are
// usage errors that say what is wrong.
func TestTokenCommand(t *testing.T) {
	url := testdb.URL(t)
	vars := map[string]string{"TALLYQ_DATABASE_URL": url}
	code, out, errOut := runIn(t, vars, "import", fixtures.Record(t, "minimal"))
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	election := lines[len(lines)-1]

	code, out, errOut = runIn(t, vars, "token", "create", "--role", "guardian", "--election", election, "--guardian", "2")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, api.TokenPrefix) || strings.Count(out, "\n") != 1 ||
		!strings.Contains(errOut, `"guardian 2", guardian 2 of election `+election) {
		t.Fatalf("create: exit %d, stdout %q, stderr %q; want the token alone on stdout", code, out, errOut)
	}

	// Only the digest is stored: no column of the row holds the token.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	digest := sha256.Sum256([]byte(token))
	var stored, plain int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE token_hash = $1),
		count(*) FILTER (WHERE strpos(t::text, $2) > 0) FROM tallyq_tokens t`, digest[:], token).Scan(&stored, &plain); err != nil {
		t.Fatal(err)
	}
	if stored != 1 || plain != 0 {
		t.Fatalf("%d rows hold the token's digest and %d the token; want 1 and 0", stored, plain)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--role", "guardian", "--election", election, "--guardian", "9"}, `has no guardian "9"`},
		{[]string{"create", "--role", "guardian", "--guardian", "1"}, "must name its election"},
		{[]string{"create", "--role", "viewer", "--election", election}, "leave them out for role viewer"},
		{[]string{"create", "--role", "root"}, `role "root" is not one of admin, guardian, viewer`},
		{[]string{"create"}, "create needs --role"},
		{[]string{"revoke"}, "revoke needs --id"},
		{nil, "say create, list or revoke"},
	} {
		code, _, errOut := runIn(t, vars, append([]string{"token"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("token %s: exit %d, %q; want 2 and a message containing %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}

	code, out, errOut = runIn(t, vars, "token", "list")
	if code != 0 || !strings.Contains(out, "guardian 2") || strings.Contains(out, token) || strings.Count(out, "\n") != 2 {
		t.Fatalf("list: exit %d\n%s%s; want the header and one token, without the token itself", code, out, errOut)
	}
	code, out, errOut = runIn(t, vars, "token", "revoke", "--id", "1")
	if code != 0 || !strings.Contains(out, "token 1") || !strings.Contains(out, "revoked at") {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runIn(t, vars, "token", "revoke", "--id", "7"); code != 1 || !strings.Contains(errOut, "no token has id 7") {
		t.Errorf("revoke of an unknown token: exit %d, %q", code, errOut)
	}
	var audit []string
	rows, err := conn.Query(context.Background(), `SELECT action || ' by ' || actor FROM tallyq_audit_log
		WHERE action LIKE '%token' ORDER BY entry_id`)
	if err != nil {
		t.Fatal(err)
	}
	if audit, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || !strings.HasPrefix(audit[0], "create token by cli") || !strings.HasPrefix(audit[1], "revoke token by cli") {
		t.Errorf("audit log of the tokens: %q", audit)
	}
}

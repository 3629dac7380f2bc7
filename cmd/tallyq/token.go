package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tallyq/tallyq/api"
)

func init() {
	register(&command{
		name:    "token",
		summary: "create, list or revoke API tokens of the admin, guardian and viewer roles",
		run:     runToken,
	})
}

// tokenOptions are the flags and the action of `tallyq token`.
type tokenOptions struct {
	dbOptions
	action     string
	role       string
	name       string
	electionID int64
	guardianID string
	tokenID    int64
}

func (o *tokenOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	fs.StringVar(&o.role, "role", "", "the token's `role` (create): admin, guardian or viewer")
	fs.StringVar(&o.name, "name", "", "whom the token is for (create; shown in the audit log; default: the role, and the guardian's id)")
	fs.Int64Var(&o.electionID, "election", 0, "the election `id` a guardian's token is bound to (create --role guardian)")
	fs.StringVar(&o.guardianID, "guardian", "", "the guardian `id` a guardian's token acts for (create --role guardian)")
	fs.Int64Var(&o.tokenID, "id", 0, "the token's `id` (revoke), as `tallyq token list` shows it")
}

func (o *tokenOptions) validate() error {
	switch {
	case o.action == "":
		return usagef("say create, list or revoke; see `tallyq token -h`")
	case o.action == "create" && o.role == "":
		return usagef("create needs --role admin, guardian or viewer")
	case o.action == "revoke" && o.tokenID < 1:
		return usagef("revoke needs --id N, the token's id as `tallyq token list` shows it")
	}
	return o.dbOptions.validate()
}

// spec is the token create asks for.
func (o *tokenOptions) spec(by string) api.TokenSpec {
	spec := api.TokenSpec{Name: o.name, Role: api.Role(o.role), GuardianID: o.guardianID, CreatedBy: by}
	if o.electionID != 0 {
		spec.ElectionID = &o.electionID
	}
	if spec.Name == "" {
		spec.Name = o.role
		if o.guardianID != "" {
			spec.Name = "guardian " + o.guardianID
		}
	}
	return spec
}

func runToken(ctx context.Context, e *env, args []string) error {
	var opts tokenOptions
	flags, action, err := splitWord(args, "create", "list", "revoke")
	if err != nil {
		return err
	}
	opts.action = action
	if err := parseOptions(e, flags, "token", "create --role admin|guardian|viewer [--election N --guardian ID] [--name NAME] | list | revoke --id N",
		"create makes an API token and prints it once: only its SHA-256 is stored. A guardian's token is bound to\n"+
			"one guardian of one election: it may start that guardian's decryption or upload its shares and read that\n"+
			"election and its jobs, nothing else. A viewer's may read everything but tokens and the audit log; an\n"+
			"admin's may do anything. list shows every token (never the tokens themselves); revoke ends one at once,\n"+
			"with the browser sessions it signed in. Creating and revoking are recorded in the audit log.",
		&opts); err != nil {
		return err
	}
	pool, err := connect(ctx, opts.databaseURL, 0, 0, opts.logger(e))
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := api.NewTokenStore(pool)
	if err != nil {
		return err
	}
	switch opts.action {
	case "create":
		info, token, err := store.Create(ctx, opts.spec(cliActor()))
		if errors.Is(err, api.ErrTokenSpec) {
			return usagef("%v", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "token %d (%s) created; it is shown this once, store it now:\n", info.ID, describeToken(info))
		fmt.Fprintln(e.stdout, token)
		return nil
	case "revoke":
		info, err := store.Revoke(ctx, opts.tokenID, cliActor())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "token %d (%s) revoked at %s\n", info.ID, describeToken(info), info.RevokedAt.Format(time.RFC3339))
		return nil
	default:
		tokens, err := store.List(ctx)
		if err != nil {
			return err
		}
		return printTokens(e, tokens)
	}
}

// printTokens writes the token list as a table.
func printTokens(e *env, tokens []api.TokenInfo) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tELECTION\tGUARDIAN\tCREATED\tBY\tREVOKED")
	for _, t := range tokens {
		election, revoked := "", ""
		if t.ElectionID != nil {
			election = strconv.FormatInt(*t.ElectionID, 10)
		}
		if t.RevokedAt != nil {
			revoked = t.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, election, t.GuardianID,
			t.CreatedAt.Format(time.RFC3339), t.CreatedBy, revoked)
	}
	return tw.Flush()
}

// describeToken says what a token is for.
func describeToken(t api.TokenInfo) string {
	if t.Role == api.RoleGuardian && t.ElectionID != nil {
		return fmt.Sprintf("%q, guardian %s of election %d", t.Name, t.GuardianID, *t.ElectionID)
	}
	return fmt.Sprintf("%q, %s", t.Name, t.Role)
}

// cliActor names the operator of a command for the audit log: the local
// account, as far as it can be told.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

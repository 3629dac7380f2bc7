package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/internal/rawurl"
	"github.com/tallyq/tallyq/internal/retry"
)

// connectTimeout bounds the first contact with the database.
const connectTimeout = 10 * time.Second

// connect opens a pool on databaseURL with room for slots busy workers, and
// checks that the database answers, trying again for up to wait (0: once)
// while it does not.
func connect(ctx context.Context, databaseURL string, slots int, wait time.Duration, logger *slog.Logger) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err == nil && atAfterHost(databaseURL) {
		err = errors.New("its '@' comes after the host") // pgx would connect to the password as a host
	}
	if err != nil {
		// pgx's message may quote the URL, password and all, when it
		// does not parse; say what is wrong without it.
		return nil, usagef("cannot parse the database URL %s: write postgres://user:password@host:port/dbname or `host=… user=… password=… dbname=…`",
			redactURL(databaseURL))
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = poolSize(slots)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	ping := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		return pool.Ping(ctx)
	}
	waiting := func(err error, pause time.Duration) {
		logger.Warn("waiting for the database", "database", redactURL(databaseURL), "error", err, "retryIn", pause)
	}
	if err := retry.Default(wait).Do(ctx, ping, waiting); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach the database %s: %w (is Postgres running? `make run` starts one)",
			redactURL(databaseURL), err)
	}
	logger.Info("connected to database", "database", redactURL(databaseURL), "maxConns", cfg.MaxConns)
	return pool, nil
}

// poolSize is the pool size for slots chunk workers: each holds a
// connection while it commits, and River's fetcher, notifier, leader
// elector and the engine's maintenance need a few more.
func poolSize(slots int) int32 {
	return int32(max(8, 2*slots+8))
}

// passwordPattern finds the password settings of a keyword/value
// connection string.
var passwordPattern = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactURL returns a database URL or keyword/value connection string with
// its passwords replaced, fit for logs and error messages. A URL that does
// not parse is hidden whole, since where its password ends is unclear.
// isScheme reports whether s can be a URL scheme (a letter, then letters,
// digits, "+", "-" or "."), so that a keyword/value string that happens to
// hold "://" in a value is not taken for a URL.
func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// atAfterHost reports whether raw is a URL with an '@' after its host: its
// authority ended at a '/', '?' or '#' of the password (or user), and what
// looks like its host, path, query or fragment holds the password.
func atAfterHost(raw string) bool {
	scheme, _, isURL := strings.Cut(raw, "://")
	return isURL && isScheme(scheme) && rawurl.AtAfterAuthority(raw)
}

func redactURL(s string) string {
	scheme, _, isURL := strings.Cut(s, "://")
	if !isURL || !isScheme(scheme) {
		return passwordPattern.ReplaceAllString(s, "${1}xxxxx")
	}
	u, err := url.Parse(s)
	if err != nil {
		return scheme + "://(unparsable URL not shown)"
	}
	if atAfterHost(s) {
		return scheme + "://(URL not shown: its '@' comes after the host; percent-encode '/', '?' and '#' in the password)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for key := range q {
		if strings.EqualFold(key, "password") || strings.EqualFold(key, "sslpassword") {
			q.Set(key, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

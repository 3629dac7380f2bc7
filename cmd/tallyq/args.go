package main

import "strings"

// oneFolder separates the one folder a command takes from its flags: "" when
// none is given (validate then says what is missing), a usage error for more.
func oneFolder(args []string, define func(fs *flagSet)) (dir string, flags []string, err error) {
	dirs, flags := positionalArgs(args, define)
	if len(dirs) > 1 {
		return "", nil, usagef("give one folder, not %d: %s", len(dirs), strings.Join(dirs, " "))
	}
	if len(dirs) == 1 {
		dir = dirs[0]
	}
	return dir, flags, nil
}

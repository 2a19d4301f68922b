package service

import "strings"

// LastLines returns the last n lines of a process's output (trailing
// blank lines dropped), for an error message that says why it failed
// without quoting all of it.
func LastLines(out string, n int) []string {
	lines := strings.Split(strings.TrimRight(out, "\n\t "), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

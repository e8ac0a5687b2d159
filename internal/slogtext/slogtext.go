// Package slogtext reads lines of log/slog's text format back into their
// attributes, for tests that check what the server logged.
package slogtext

import (
	"strconv"
	"strings"
)

// Parse reads the key=value pairs of one line, values quoted or not.
func Parse(line string) map[string]string {
	l := map[string]string{}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			break
		}
		key, rest := line[:eq], line[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			val, rest = rest[:sp], rest[sp:]
		} else {
			val, rest = rest, ""
		}
		l[key] = val
		line = rest
	}
	return l
}

// Package logline reads the JSON log lines a tallyq process writes, for
// tests that start the binary and wait for what it logs.
package logline

import (
	"bufio"
	"encoding/json"
	"io"
)

// maxLine is the longest log line Scan accepts.
const maxLine = 1 << 20

// Scan calls fn with each line of r decoded as a JSON object, and with the
// line's text, until r ends. A line that is not JSON (a panic's stack, say)
// is passed as {"msg": "(not JSON) <text>"}, so that nothing a process
// wrote is lost to the test's report.
func Scan(r io.Reader, fn func(line map[string]any, raw string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			line = map[string]any{"msg": "(not JSON) " + sc.Text()}
		}
		fn(line, sc.Text())
	}
}

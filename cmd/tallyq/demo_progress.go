package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is how often a progress line is printed when stderr is not
// a terminal (a log file or CI).
const progressEvery = 5 * time.Second

// barWidth is the number of cells of a progress bar.
const barWidth = 24

// progress shows one task's progress on a writer: on a terminal a single
// line redrawn in place, elsewhere a plain line every progressEvery.
type progress struct {
	w       io.Writer
	tty     bool
	label   string
	started time.Time
	printed time.Time // when a line was last written
	drawn   bool      // a line has been written
	ended   bool      // finish has written the last line
}

func newProgress(w io.Writer, tty bool, label string) *progress {
	return &progress{w: w, tty: tty, label: label, started: time.Now()}
}

// update shows done of total units; detail follows the counts.
func (p *progress) update(done, total int, unit, detail string) {
	now := time.Now()
	if p.tty {
		if p.drawn && now.Sub(p.printed) < 100*time.Millisecond && done < total {
			return
		}
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(done, total, unit, detail))
	} else {
		if p.drawn && now.Sub(p.printed) < progressEvery {
			return
		}
		fmt.Fprintln(p.w, p.line(done, total, unit, detail))
	}
	p.printed, p.drawn = now, true
}

// finish ends the task's line with its final state and how long the task
// took.
func (p *progress) finish(done, total int, unit, detail string, took time.Duration) {
	p.ended = true
	detail = strings.TrimSpace(detail + " in " + formatDuration(took))
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", p.line(done, total, unit, detail))
		return
	}
	fmt.Fprintln(p.w, p.line(done, total, unit, detail))
}

// stop ends a terminal's unfinished line, so that what follows (an error)
// starts on a line of its own.
func (p *progress) stop() {
	if p.tty && p.drawn && !p.ended {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) line(done, total int, unit, detail string) string {
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s ", p.label)
	if p.tty {
		cells := int(pct / 100 * barWidth)
		b.WriteString("[" + strings.Repeat("#", cells) + strings.Repeat(".", barWidth-cells) + "] ")
	}
	fmt.Fprintf(&b, "%3.0f%% %d/%d %s", pct, done, total, unit)
	if detail != "" {
		b.WriteString("  " + detail)
	}
	return b.String()
}

// formatDuration rounds d for people: 850ms, 12.3s, 4m05s.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is the outcome of a scenario: figures in the order they were
// added. It prints as one machine-readable line and a table for people.
type Summary struct {
	Scenario string
	Figures  []Figure
}

// Figure is one named result.
type Figure struct {
	Key   string // snake_case, with its unit as a suffix (_ms, _per_s, _bytes)
	Value string
	Help  string
}

// Add records a figure. Floats get at most four significant digits below
// 10,000 and none above; durations are given in milliseconds.
func (s *Summary) Add(key string, v any, help string) {
	s.Figures = append(s.Figures, Figure{Key: key, Value: formatValue(v), Help: help})
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" || strings.ContainsAny(x, " =\t\n") {
			return strconv.Quote(x)
		}
		return x
	case time.Duration:
		return formatValue(float64(x) / float64(time.Millisecond))
	case float64:
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return "NaN"
		case math.Abs(x) >= 10000 || x == math.Trunc(x) && math.Abs(x) < 1e15:
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'g', 4, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Get returns the value of key.
func (s *Summary) Get(key string) (string, bool) {
	for _, f := range s.Figures {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Line is the summary as one line: "RESULT scenario=<name> key=value ...".
func (s *Summary) Line() string {
	var b strings.Builder
	b.WriteString("RESULT scenario=")
	b.WriteString(s.Scenario)
	for _, f := range s.Figures {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(f.Value)
	}
	return b.String()
}

// Print writes the table and then the line.
func (s *Summary) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tvalue\t\n", s.Scenario)
	for _, f := range s.Figures {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Key, f.Value, f.Help)
	}
	tw.Flush()
	fmt.Fprintln(w, s.Line())
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// median returns the middle of xs (the mean of the two middle values when
// even), sorting a copy.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

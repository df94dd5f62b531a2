package federation

import (
	"runtime"
	"strings"
	"testing"
)

// A document whose one string is full of `\":` (each counted as a member's
// end when sizing the map) gets a map sized for the cap, not for thousands
// of members: what it allocates stays near its own size.
func TestParseJSONObjectHintIsCapped(t *testing.T) {
	doc := `{"a":"` + strings.Repeat(`\":`, (MaxTokenLength-10)/3) + `"}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 20
	for range runs {
		m, err := parseJSONObject(doc)
		if err != nil || len(m) != 1 {
			t.Fatalf("parseJSONObject = %d members, %v", len(m), err)
		}
	}
	runtime.ReadMemStats(&after)
	// Measured: 68 KB a run with the cap (the string and its unescaping),
	// 391 KB with a map sized from the uncapped count (~6,600 members).
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 128<<10 {
		t.Fatalf("parsing a %d-byte document allocated %d bytes", len(doc), perRun)
	}
}

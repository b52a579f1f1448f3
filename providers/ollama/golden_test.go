package ollama

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the expected halves of testdata/ golden files")

// sep parts a golden file's input from the output expected of it.
const sep = "\n----\n"

// goldenCases returns the golden files of testdata/dir by their names.
func goldenCases(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/%s: %v", dir, err)
	}
	cases := map[string]string{}
	for _, f := range files {
		cases[f] = strings.TrimSuffix(filepath.Base(f), ".txt")
	}
	return cases
}

// checkGolden compares got with the file's expected half, or rewrites it.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	input, want := readGolden(t, path)
	if *update {
		if err := os.WriteFile(path, []byte(input+sep+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: output differs from golden (-want +got; go test -update rewrites):\n%s", path, diff)
	}
}

func readGolden(t testing.TB, path string) (input, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	input, want, ok := strings.Cut(string(b), sep)
	if !ok {
		t.Fatalf("%s: no %q separator", path, strings.TrimSpace(sep))
	}
	return input, want
}

func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return "invalid JSON: " + err.Error() + "\n" + string(b)
	}
	return out.String() + "\n"
}

// testEpoch is when every test clock starts: the day of the captures.
var testEpoch = time.Date(2026, 12, 3, 11, 40, 44, 124101766, time.UTC)

// stepClock returns a clock that starts at testEpoch and moves on by step
// at every reading, so that durations are known and not zero.
func stepClock(step time.Duration) func() time.Time {
	t := testEpoch
	return func() time.Time {
		now := t
		t = t.Add(step)
		return now
	}
}

package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ByteSize is a size in bytes. In YAML it is a plain number of bytes or a
// number with a unit: "512KiB", "32MiB", "1GiB" (1024-based) or "10kB",
// "32MB", "1GB" (1000-based); units ignore case.
type ByteSize int64

const (
	kib ByteSize = 1 << (10 * (iota + 1))
	mib
	gib
	tib
)

// units maps each accepted unit, lower-cased, to its size.
var units = map[string]ByteSize{
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": kib,
	"mib": mib,
	"gib": gib,
	"tib": tib,
}

var errByteSize = errors.New(`want bytes or a number with a unit, like 1048576, "512KiB" or "32MiB"`)

// parseByteSize parses s as described on ByteSize. Fractions are allowed
// ("1.5GiB") and rounded down to whole bytes; negative sizes are not.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult := ByteSize(1)
	if unit != "" {
		m, ok := units[unit]
		if !ok {
			return 0, errByteSize
		}
		mult = m
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n > math.MaxInt64/int64(mult) {
			return 0, errors.New("too large")
		}
		return ByteSize(n) * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errByteSize
	}
	f *= float64(mult)
	// float64(MaxInt64) rounds up to 2^63, so >= rejects exactly what overflows.
	if f >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return ByteSize(f), nil
}

// UnmarshalYAML implements yaml.Unmarshaler, for ByteSize fields decoded
// with yaml.v3 directly rather than through Parse.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: cannot use a %s as a size", n.Line, kindName(n))
	}
	v, err := parseByteSize(n.Value)
	if err != nil {
		// Not quoting n.Value, for the reason given on fieldError.
		return fmt.Errorf("line %d: not a size: %w", n.Line, err)
	}
	*b = v
	return nil
}

// String returns b in the exact unit that gives the smallest number, so
// that parsing the result gives b back: "32MiB", "32MB", "1500B".
func (b ByteSize) String() string {
	best, unit := int64(b), "B"
	for _, u := range []struct {
		name string
		size ByteSize
	}{
		{"KiB", kib}, {"MiB", mib}, {"GiB", gib}, {"TiB", tib},
		{"kB", units["kb"]}, {"MB", units["mb"]}, {"GB", units["gb"]}, {"TB", units["tb"]},
	} {
		if b != 0 && b%u.size == 0 && abs(int64(b/u.size)) < abs(best) {
			best, unit = int64(b/u.size), u.name
		}
	}
	return strconv.FormatInt(best, 10) + unit
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

package tray

import (
	"fmt"
	"math"
	"strconv"
)

// usageLine is "Today: 412 requests · 1.9M tokens · 83% local · ≈ $4.10
// saved", or why there is nothing to count.
func usageLine(t Today) string {
	switch {
	case t.Off:
		return usageOff
	case t.Error != "":
		return fmt.Sprintf(usageFailing, truncate(t.Error, 60))
	case t.Requests == 0 && t.Notice != "":
		return fmt.Sprintf(usageNotice, truncate(t.Notice, 70))
	case t.Requests == 0:
		return usageNone
	}
	reqs := fmt.Sprintf(usageRequests, t.Requests)
	if t.Requests == 1 {
		reqs = usageRequest
	}
	local := int(math.Round(100 * float64(t.Local) / float64(t.Requests)))
	return fmt.Sprintf(usageToday, reqs, count(t.Tokens), local, t.SavedUSD)
}

// count writes n as 950, 12.3k, 1.9M or 2.4B.
func count(n int64) string {
	f := float64(n)
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if f >= u.div {
			return strconv.FormatFloat(math.Floor(f/u.div*10)/10, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

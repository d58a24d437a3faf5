package correlate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// Signature is what kind of incident inc is: the names of its alerts,
// each with the kind of entity it is about (service, host, ...), sorted,
// as a hash. Incidents of one kind recur: the API's recurrence and the
// recurring-incidents analytic both compare it.
func Signature(inc *quell.Incident) string {
	var parts []string
	for i := range inc.Alerts {
		l := inc.Alerts[i].Labels
		kind, _ := Entity(l)
		if p := l["alertname"] + "@" + kind; !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	return fmt.Sprintf("%016x", xxhash.Sum64String(strings.Join(parts, "\n")))
}

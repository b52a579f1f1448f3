package proxy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/localrouter/localrouter/strategy"
)

// Check prints the effective routing table for `localrouter check` and
// returns an error when a routing name cannot be served.
func (s *Server) Check(w io.Writer) error {
	st := s.state.Load()
	status := s.Status()
	fmt.Fprintf(w, "config: %s\n", st.cfg.Path)
	fmt.Fprintf(w, "listen: http://%s/v1\n", st.cfg.Addr())
	if status.Mock {
		fmt.Fprintf(w, "mock:   on (%s)\n", status.MockReason)
	}
	if st.cfg.RemoteStrategy.URL == "" {
		fmt.Fprintln(w, "remote strategy: none configured; routing.default decides")
	} else {
		fmt.Fprintf(w, "remote strategy: %s (not fetched by this version)\n", st.cfg.RemoteStrategy.URL)
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPROVIDER\tTYPE\tSIDE\tMODELS\tSTATUS")
	for _, p := range status.Providers {
		side := "remote"
		if p.Local {
			side = "local"
		}
		state := "ok"
		if p.Skipped != "" {
			state = "skipped: " + p.Skipped
		}
		models := "-"
		if pc, ok := st.cfg.Provider(p.Name); ok && len(pc.Models) > 0 {
			models = strings.Join(pc.Models, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, side, models, state)
	}
	fmt.Fprintln(tw, "\nMODEL\tROUTE")
	var problems []string
	for _, name := range []string{"auto", "local", "remote"} {
		d, err := st.router.Decide(strategy.Request{Model: name})
		if err != nil {
			fmt.Fprintf(tw, "%s\terror: %v\n", name, err)
			if !status.Mock {
				problems = append(problems, name+": "+err.Error())
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, d)
	}
	tw.Flush()
	if len(problems) > 0 && len(st.up.byName) > 0 {
		// A side without a provider is a valid setup (remote only, local only);
		// only the default side must work.
		for _, p := range problems {
			if strings.HasPrefix(p, "auto:") {
				return fmt.Errorf("routing: %s", strings.TrimPrefix(p, "auto: "))
			}
		}
	}
	return nil
}

package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/localrouter/localrouter/config"
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
	var problems []string
	if st.cfg.RemoteStrategy.URL == "" {
		fmt.Fprintln(w, "remote strategy: none configured; routing.default decides")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), st.cfg.RemoteStrategy.Timeout+time.Second)
		err := s.RefreshStrategy(ctx)
		cancel()
		ps := s.Status().Strategy
		u := redactURL(st.cfg.RemoteStrategy.URL)
		if err != nil {
			fmt.Fprintf(w, "remote strategy: %s\n  fetch failed: %v\n", u, err)
			problems = append(problems, err.Error())
			if ps.Source == strategy.SourceCache {
				fmt.Fprintf(w, "  routing by the cached strategy: %s (local %q, remote %q)\n", ps.Strategy, ps.LocalModel, ps.RemoteModel)
			}
		} else {
			fmt.Fprintf(w, "remote strategy: %s\n  fetched: strategy %s, local_model %q, remote_model %q, %d rules, updated_at %q\n",
				u, ps.Strategy, ps.LocalModel, ps.RemoteModel, ps.Rules, ps.UpdatedAt)
		}
	}
	if o := s.Override(); o != OverrideAuto {
		fmt.Fprintf(w, "override: %s (set from the tray or PUT /localrouter/override)\n", o)
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
	if rules := st.cfg.Routing.Rules; len(rules) > 0 {
		fmt.Fprintln(tw, "\nRULE\tWHEN\tUSE")
		for i, r := range rules {
			fmt.Fprintf(tw, "%d (config)\t%s\t%s\n", i+1, r.When, r.Use)
		}
	}
	if cur := s.live().Strategy; cur != nil && len(cur.Rules) > 0 {
		if len(st.cfg.Routing.Rules) == 0 {
			fmt.Fprintln(tw, "\nRULE\tWHEN\tUSE")
		}
		for i, r := range cur.Rules {
			fmt.Fprintf(tw, "%d (strategy)\t%s\t%s\n", i+1, r.When, r.Use)
		}
	}
	if aliases := st.cfg.Routing.Aliases; len(aliases) > 0 {
		fmt.Fprintln(tw, "\nALIAS\tTARGET")
		for _, a := range aliases {
			fmt.Fprintf(tw, "%s\t%s\n", a.Glob, a.Target)
		}
	}
	fmt.Fprintln(tw, "\nMODEL\tROUTE (for a request with no facts: rules on images, size or headers may differ)")
	live := s.live()
	var routeProblems []string
	for _, name := range []string{"auto", "local", "remote"} {
		d, err := st.router.Decide(&strategy.Request{Model: name}, live)
		if err != nil {
			fmt.Fprintf(tw, "%s\terror: %v\n", name, err)
			if !status.Mock {
				routeProblems = append(routeProblems, name+": "+err.Error())
			}
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, d)
	}
	// The endpoints with models of their own, when the config gives them.
	for _, ep := range []struct {
		endpoint string
		models   config.SideModels
	}{{strategy.EndpointCompletions, st.cfg.Routing.FIMModel}, {strategy.EndpointEmbeddings, st.cfg.Routing.EmbeddingModel}} {
		if ep.models.Local == "" && ep.models.Remote == "" {
			continue
		}
		if d, err := st.router.Decide(&strategy.Request{Model: "auto", Endpoint: ep.endpoint}, live); err != nil {
			fmt.Fprintf(tw, "auto (%s)\terror: %v\n", ep.endpoint, err)
		} else {
			fmt.Fprintf(tw, "auto (%s)\t%s\n", ep.endpoint, d)
		}
	}
	tw.Flush()
	if len(routeProblems) > 0 && len(st.up.byName) > 0 {
		// A side without a provider is a valid setup (remote only, local only);
		// only the default side must work.
		for _, p := range routeProblems {
			if strings.HasPrefix(p, "auto:") {
				problems = append(problems, "routing: "+strings.TrimPrefix(p, "auto: "))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// redactURL returns raw with any password masked, as the poller shows it in
// /health and the logs. A URL that does not parse is not printed at all: the
// password could be anywhere in it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

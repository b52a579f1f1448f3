package clients

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/localrouter/localrouter/config"
)

// UserEnv is this user's home and platform.
func UserEnv() (Env, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Env{}, fmt.Errorf("setup: %w", err)
	}
	return Env{Home: home, GOOS: runtime.GOOS, Getenv: os.Getenv}, nil
}

// Command is `localrouter setup [<client>] [--config PATH] [--print]
// [--undo] [--model NAME]`; args follow "setup". With no client it lists
// the clients.
func Command(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localrouter setup", flag.ContinueOnError)
	fs.SetOutput(stdout)
	configFlag := fs.String("config", "", "LocalRouter's config file (default $LOCALROUTER_CONFIG_PATH, else the user config dir)")
	printOnly := fs.Bool("print", false, "show the change as a diff and write nothing")
	undoFlag := fs.Bool("undo", false, "restore the client's file from the backup setup made")
	model := fs.String("model", "", "the model name the client asks LocalRouter for (default auto)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: localrouter setup <client> [--print] [--undo] [--model NAME] [--config PATH]")
		fs.PrintDefaults()
	}
	// The client may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("setup: unexpected %q", fs.Arg(0))
	}
	env, err := UserEnv()
	if err != nil {
		return err
	}
	if name == "" {
		return list(stdout, env)
	}
	if *undoFlag {
		r, err := Undo(name, env)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, Message(r, true))
		return nil
	}
	cfg, err := loadConfig(*configFlag)
	if err != nil {
		return err
	}
	t := TargetFor(cfg, *model)
	if *printOnly {
		r, err := Preview(name, t, env)
		if err != nil {
			return err
		}
		switch {
		case r.Path == "":
			fmt.Fprint(stdout, r.Note)
		case r.Changed:
			fmt.Fprintf(stdout, "%s(nothing written: run without --print to write %s)\n", r.Diff, r.Path)
		default:
			fmt.Fprintf(stdout, "%s already points at LocalRouter: nothing to change.\n", r.Path)
		}
		return nil
	}
	r, err := Apply(name, t, env)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, Message(r, false))
	return nil
}

// Connect is what the tray's Connect a client… runs: Apply with the
// config at configPath, returning the message to show.
func Connect(configPath, name string) (string, error) {
	env, err := UserEnv()
	if err != nil {
		return "", err
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return "", err
	}
	r, err := Apply(name, TargetFor(cfg, ""), env)
	if err != nil {
		return "", err
	}
	return Message(r, false), nil
}

// Message tells the user what Apply (or Undo) did and how to take it back.
func Message(r Result, undone bool) string {
	var b strings.Builder
	switch {
	case r.Path == "":
		b.WriteString(r.Note)
		return b.String()
	case undone && strings.HasSuffix(r.Backup, createdSuffix):
		fmt.Fprintf(&b, "Removed %s, which setup had created.\n", r.Path)
		return b.String()
	case undone:
		fmt.Fprintf(&b, "Restored %s from %s.\n", r.Path, r.Backup)
		return b.String()
	case r.Changed:
		fmt.Fprintf(&b, "Wrote %s.\n", r.Path)
	default:
		fmt.Fprintf(&b, "%s already points at LocalRouter: nothing to change.\n", r.Path)
	}
	if r.Note != "" {
		b.WriteString(r.Note + "\n")
	}
	if r.Backup != "" {
		fmt.Fprintf(&b, "Undo: localrouter setup %s --undo\n", r.Client)
	}
	return b.String()
}

func list(w io.Writer, env Env) error {
	fmt.Fprintln(w, "usage: localrouter setup <client> [--print] [--undo] [--model NAME]")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range Clients(env) {
		where := c.Path
		if where == "" {
			where = "(prints the settings to paste)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, c.Title, where)
	}
	return tw.Flush()
}

// loadConfig finds LocalRouter's config as serving does; a config not yet
// created is the template's defaults, which is what serving would start
// with.
func loadConfig(flagPath string) (*config.Config, error) {
	path, err := config.ResolvePath(flagPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		cfg := config.Default()
		cfg.Path = path
		return cfg, nil
	}
	return config.Load(path)
}

// Command localrouter is a local OpenAI-compatible LLM gateway that routes
// each request to a local or a remote model.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/localrouter/localrouter/assets"
	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/config/clients"
	"github.com/localrouter/localrouter/proxy"
)

// Set by the Makefile's -ldflags.
var (
	version     = "dev"
	commit      = "unknown"
	date        = "unknown"
	defaultMock = "false" // "true" in bin/localrouter-mock
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "localrouter:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "setup" {
		return clients.Command(args[1:], stdout) // writes a client's config; needs no running LocalRouter
	}
	if len(args) > 0 && args[0] == "usage" {
		return usageCommand(args[1:], stdout) // reads the usage database, the gateway running or not
	}
	check := len(args) > 0 && args[0] == "check"
	if check {
		args = args[1:]
	}
	fs := flag.NewFlagSet("localrouter", flag.ContinueOnError)
	configFlag := fs.String("config", "", "config file (default $LOCALROUTER_CONFIG_PATH, else the user config dir)")
	headless := fs.Bool("headless", false, "run without the tray")
	mockFlag := fs.Bool("mock", defaultMock == "true", "answer every request from the mock provider")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// A word that is no command must not start a gateway the user did
		// not ask for.
		fs.Usage()
		if fs.Arg(0) == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("unknown command %q: the commands are check, setup and usage", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintf(stdout, "localrouter %s (commit %s, built %s)\n", version, commit, date)
		return nil
	}
	if !check {
		survivePipeErrors() // a gateway outlives whoever reads its stderr
	}
	cacheDir := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "localrouter")
	}
	logFile := io.Discard // a tray app has no terminal: it logs to a rotating file too
	if !check && cacheDir != "" {
		lf := newLogFile(cacheDir)
		defer lf.Close()
		logFile = lf
	}
	sink := newLogBuffer(logSink{os.Stderr, logFile})
	defer sink.Close() // before the log file closes: every line held is written
	log := slog.New(newLineHandler(sink, &slog.HandlerOptions{Level: logLevel()}))

	path, err := config.ResolvePath(*configFlag)
	if err != nil {
		return err
	}
	if created, err := config.Ensure(path, assets.ConfigTemplate); err != nil {
		return err
	} else if created {
		log.Info("created a config from the template", "path", path)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	u := &usageStore{}
	if !check {
		u = openUsage(cfg, cacheDir, log)
		defer u.close() // runs after srv.Run: the server has drained, so nothing queued is lost
	}
	srv, err := proxy.New(u.options(proxy.Options{Config: cfg, Version: version, Logger: log, Mock: *mockFlag, CacheDir: cacheDir, Watch: !check,
		Pprof: os.Getenv("LOCALROUTER_PPROF") == "1"}))
	if err != nil {
		return err
	}
	if check {
		return srv.Check(stdout)
	}
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	reloadOnHangup(ctx, srv)
	log.Info("LocalRouter listening", "url", "http://"+ln.Addr().String()+"/v1", "config", path, "version", version)
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Run(ctx, ln) // drains running streams for at most 5 s
		quit()
	}()
	if !*headless {
		runTray(ctx, quit, srv, cfg, cacheDir, u, log) // on the main goroutine: macOS requires it
	}
	<-ctx.Done()
	return <-errc
}

func logLevel() slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(os.Getenv("LOCALROUTER_LOG_LEVEL"))) != nil {
		return slog.LevelInfo
	}
	return l
}

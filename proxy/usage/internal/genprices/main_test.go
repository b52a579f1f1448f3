package main

import "testing"

func TestParseProvider(t *testing.T) {
	src := `export const acmeModels = {
    id: "acme",
    models: {
        "acme-1": {
            id: "acme-1",
            name: "Acme: one, two",
            modalities: {
                input: ["text", "image"],
            },
            cost: {
                input: 0.5,
                output: 2,
            },
        },
        "acme-free": {
            id: "acme-free",
        },
    },
};
export default acmeModels;
`
	p, err := parseProvider([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "acme" || len(p.Models) != 2 {
		t.Fatalf("got %+v", p)
	}
	if c := p.Models["acme-1"].Cost; c == nil || c.Input != 0.5 || c.Output != 2 {
		t.Errorf("acme-1 cost %+v", c)
	}
	if p.Models["acme-free"].Cost != nil {
		t.Error("acme-free has a cost")
	}
}

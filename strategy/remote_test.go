package strategy

import "testing"

func TestRemoteFor(t *testing.T) {
	table := engineTable()
	e, err := NewEngine(table)
	if err != nil {
		t.Fatal(err)
	}
	local, err := e.Decide(&Request{Model: "local"}, Live{})
	if err != nil || local.Side != Local {
		t.Fatalf("Decide(local) = %+v, %v", local, err)
	}
	got, ok := e.RemoteFor(&Request{Model: "local"}, local, Live{})
	if !ok || got.Side != Remote || got.Model != table.RemoteModel {
		t.Errorf("RemoteFor(local) = %+v, %v; want the remote side's %s", got, ok, table.RemoteModel)
	}
	remote := Decision{Side: Remote, Provider: "x", Model: "y"}
	if got, ok := e.RemoteFor(&Request{}, remote, Live{}); !ok || got != remote {
		t.Errorf("RemoteFor(remote) = %+v, %v; want the decision itself", got, ok)
	}
}

package providers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testKey   = "sk-test-0123456789abcdef"
	hdrSecret = "hdr-secret-9876543210"
)

func testUpstream() *Upstream {
	return NewUpstream(UpstreamOptions{Name: "p", AuthHeader: "Authorization", APIKey: testKey,
		Headers: map[string]string{"X-Secret": hdrSecret}})
}

func TestRedactError(t *testing.T) {
	u := testUpstream()
	echo := "bad " + testKey + " / " + hdrSecret
	header := http.Header{"Retry-After": {echo}, "X-Other": {"kept", echo}}
	e := u.RedactError(&Error{Provider: "p", Message: echo, Type: echo, Code: echo, Param: echo, Header: header})
	want := "bad [redacted] / [redacted]"
	got := []string{e.Message, e.Type, e.Code, e.Param, e.Header.Get("Retry-After"), e.Header.Values("X-Other")[1]}
	if diff := cmp.Diff([]string{want, want, want, want, want, want}, got); diff != "" {
		t.Errorf("redacted fields (-want +got):\n%s", diff)
	}
	if e.Header.Values("X-Other")[0] != "kept" {
		t.Errorf("got X-Other %q, want the other value kept", e.Header.Values("X-Other"))
	}
	if header.Get("Retry-After") != echo {
		t.Error("RedactError changed the response's own header map, want a copy")
	}
}

// TestRedactBeforeTruncate: a key straddling the cut ParseErrorBody makes
// in a long text body must not leave its first half behind.
func TestRedactBeforeTruncate(t *testing.T) {
	u := testUpstream()
	for _, cut := range []int{1, 8, len(testKey) / 2, len(testKey) - 1} {
		body := strings.Repeat("x", 512-cut) + testKey + " tail"
		msg, _, _, _ := ParseErrorBody(u.RedactBody([]byte(body)))
		if msg = u.Redact(msg); strings.Contains(msg, testKey[:min(cut, 8)]) {
			t.Errorf("cut %d: got message ending %q, want no part of the key", cut, msg[len(msg)-20:])
		}
		if !strings.HasPrefix(msg, "xxxx") {
			t.Errorf("cut %d: got message %.20q…, want the body's text", cut, msg)
		}
	}
}

func TestRedactBodyWithoutSecrets(t *testing.T) {
	u := NewUpstream(UpstreamOptions{Name: "local"})
	body := []byte(`{"error":"no key here"}`)
	if got := u.RedactBody(body); string(got) != string(body) {
		t.Errorf("got %s, want the body unchanged", got)
	}
}

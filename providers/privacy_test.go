package providers

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// promptBody is a Chat Completions body whose one user message is text, as
// an SDK encodes it (newlines become \n, quotes \").
func promptBody(t testing.TB, text string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"model": "auto", "messages": []map[string]string{{"role": "user", "content": text}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecretScannerBuiltins(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"RSA private key", "here:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n", kindPrivateKey},
		{"PKCS8 private key", "-----BEGIN PRIVATE KEY-----\nMIIE", kindPrivateKey},
		{"OpenSSH private key", "cat id_ed25519\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", kindPrivateKey},
		{"encrypted private key", "-----BEGIN ENCRYPTED PRIVATE KEY-----", kindPrivateKey},
		{"PGP private key block", "-----BEGIN PGP PRIVATE KEY BLOCK-----", kindPrivateKey},
		{"GCP service account JSON", `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ"}`, kindPrivateKey},
		{"AWS access key id", "use AKIAIOSFODNN7EXAMPLE for it", kindAWS},
		{"AWS temporary key id", "ASIAY34FZKBOKMUTVV7A", kindAWS},
		{"AWS credentials file", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", kindAWS},
		{"AWS secret alone", "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", kindEnvAssignment},
		{"Google API key", "key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", kindGoogle},
		{"GitHub classic token", "token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", kindGitHub},
		{"GitHub app token", "ghs_16C7e42F292c6912E7710c838347Ae178B4a", kindGitHub},
		{"GitHub fine-grained token", "github_pat_11ABCDEFG0123456789abc_" + strings.Repeat("a1B2c3D4e5", 6), kindGitHub},
		{"OpenAI project key", "OPENAI=sk-proj-" + strings.Repeat("Ab3_x-", 10), kindOpenAI},
		{"OpenAI legacy key", "key: sk-" + strings.Repeat("aB3dE6gH9j", 5), kindOpenAI},
		{"Anthropic key", "x-api-key: sk-ant-api03-" + strings.Repeat("Zx9_-Qw8", 12) + "AA", kindAnthropic},
		{"JWT", "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", kindJWT},
		{".env password", "my .env:\nDB_HOST=localhost\nDB_PASSWORD=hunter2hunter2\nDEBUG=1\n", kindEnvAssignment},
		{".env quoted secret", "STRIPE_SECRET_KEY=\"rk_live_51Habcdefgh\"\n", kindEnvAssignment},
		{".env single-quoted token", "export SLACK_TOKEN='xoxb-1234-5678-abcdefgh'\n", kindEnvAssignment},
		{".env at the end of the text", "API_KEY=0123456789abcdef", kindEnvAssignment},

		{"plain prompt", "Explain this Go code: func main() { fmt.Println(\"hi\") }", ""},
		{"code assigning a call", "token = getToken()\npassword = os.environ[\"PW\"]\n", ""},
		{"indented code", "def f():\n    API_KEY = load_key_from_vault(name)\n", ""},
		{"short value", "PASSWORD=abc\n", ""},
		{"placeholder", "API_KEY=${API_KEY}\nSECRET=<your secret>\n", ""},
		{"not a secret name", "LOG_LEVEL=debugdebugdebug\n", ""},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN", ""},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIID", ""},
		{"AKIA inside a word", "XAKIAIOSFODNN7EXAMPLE", ""},
		{"AKIA too short", "AKIAIOSFODNN7", ""},
		{"risk- is no key", "the task-" + strings.Repeat("abcdefghij", 5), ""},
		{"sk- too short", "sk-abc123", ""},
		{"ghp_ too short", "ghp_abc", ""},
		{"markdown rule", "---\ntitle: x\n-----\n", ""},
		{"eyJ alone", "eyJhbGciOiJIUzI1NiJ9", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *SecretScanner
			if got := s.Find(promptBody(t, tc.text)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretScannerPatterns(t *testing.T) {
	s, err := NewSecretScanner([]string{`ACME-[0-9]{6}`, `(?i)project\s+bluebird`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, want string }{
		{"ticket ACME-123456 fails", "pattern 1"},
		{"about Project  Bluebird", "pattern 2"},
		{"ACME-12 is fine", ""},
	} {
		if got := s.Find(promptBody(t, tc.text)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.text, got, tc.want)
		}
	}
	if _, err := NewSecretScanner([]string{"("}); err == nil || !strings.Contains(err.Error(), "privacy.patterns[0]") {
		t.Errorf("a bad pattern: got %v, want an error naming privacy.patterns[0]", err)
	}
}

// TestSecretScannerFindsNothingInRealRequests: the captured requests of
// Claude Code and Codex, and this repository's own source, hold no secret;
// a false positive would keep every such request local.
func TestSecretScannerFindsNothingInRealRequests(t *testing.T) {
	body := benchBody(t)
	var s *SecretScanner
	if got := s.Find(body); got != "" {
		t.Errorf("got %q in a request without secrets", got)
	}
	for _, p := range []string{"anthropic/testdata/inbound/claude-code-01-request.json", "openai/testdata/responses/codex-01.request.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Find(b); got != "" {
			t.Errorf("%s: got %q", p, got)
		}
	}
}

// benchBody is a 150 KB Messages request as Claude Code sends it: its
// captured system prompt and tools, then turns whose tool results are Go
// source files of this repository.
func benchBody(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("anthropic/testdata/inbound/claude-code-01-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	msgs := req["messages"].([]any)
	files := []string{"scan.go", "scan_messages.go", "scan_responses.go", "facts.go", "decode.go", "upstream.go", "native.go", "types.go", "stream.go", "errors.go"}
	size := len(raw)
	for i := 0; size < 150<<10; i++ {
		src, err := os.ReadFile(files[i%len(files)])
		if err != nil {
			t.Fatal(err)
		}
		id := "toolu_" + string(rune('a'+i%26))
		msgs = append(msgs,
			map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "tool_use", "id": id, "name": "Read", "input": map[string]any{"file_path": files[i%len(files)]}}}},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "tool_result", "tool_use_id": id, "content": string(src)}}})
		size += len(src) + 200
	}
	req["messages"] = msgs
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkSecretScan is the built-in scan over a 150 KB agent request
// without secrets, the case every request pays in full.
func BenchmarkSecretScan(b *testing.B) {
	body := benchBody(b)
	var s *SecretScanner
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if s.Find(body) != "" {
			b.Fatal("found a secret")
		}
	}
}

// BenchmarkScanMessagesAndSecrets is what a Messages request costs before
// routing: the facts scan and the secret scan.
func BenchmarkScanMessagesAndSecrets(b *testing.B) {
	body := benchBody(b)
	var s *SecretScanner
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanMessages(body); err != nil {
			b.Fatal(err)
		}
		if s.Find(body) != "" {
			b.Fatal("found a secret")
		}
	}
}

// BenchmarkSecretScanPatterns adds two privacy.patterns: one that starts
// with a literal, which regexp finds with a substring search, and one that
// does not.
func BenchmarkSecretScanPatterns(b *testing.B) {
	for _, p := range []string{`ACME-[0-9]{6}`, `(?i)project\s+bluebird`} {
		b.Run(p, func(b *testing.B) {
			body := benchBody(b)
			s, err := NewSecretScanner([]string{p})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if s.Find(body) != "" {
					b.Fatal("found a secret")
				}
			}
		})
	}
}

// FuzzSecretScan: any body scans without a panic, reports only known
// kinds, and a private key added after it is always found, whatever the
// bytes before it.
func FuzzSecretScan(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte("AKIA"))
	f.Add([]byte(`PASSWORD=\"abc`))
	f.Add([]byte("-----BEGIN "))
	f.Add([]byte("sk-ant-"))
	f.Add([]byte("eyJ.eyJ."))
	f.Add([]byte("ghp_"))
	f.Add([]byte(`\nexport =`))
	known := map[string]bool{"": true, kindPrivateKey: true, kindAWS: true, kindGoogle: true, kindGitHub: true,
		kindOpenAI: true, kindAnthropic: true, kindJWT: true, kindEnvAssignment: true}
	var s *SecretScanner
	f.Fuzz(func(t *testing.T, b []byte) {
		if kind := s.Find(b); !known[kind] {
			t.Fatalf("unknown kind %q", kind)
		}
		planted := append(append([]byte(nil), b...), " -----BEGIN PRIVATE KEY-----"...)
		if s.Find(planted) == "" {
			t.Fatalf("a private key after %q was not found", b)
		}
	})
}

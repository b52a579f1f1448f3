package providers

import (
	"bytes"
	"fmt"
	"regexp"
)

// SecretScanner finds secrets in a request body as the client sent it: the
// built-in kinds (private keys, AWS, Google, GitHub, OpenAI and Anthropic
// keys, JWTs, .env-style assignments of secrets) and the config's own
// patterns (DESIGN §11, privacy.patterns). It reads the body where it lies
// and copies nothing. The body is what would leave the machine, so the whole
// of it is scanned: message text, system prompt, tool results and tool
// definitions alike. A SecretScanner is safe for concurrent use.
type SecretScanner struct {
	patterns []*regexp.Regexp
}

// NewSecretScanner compiles patterns (Go regexp syntax, matched against the
// body as sent, so a newline in a prompt is the two characters \n).
func NewSecretScanner(patterns []string) (*SecretScanner, error) {
	s := &SecretScanner{}
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("privacy.patterns[%d]: %w", i, err)
		}
		s.patterns = append(s.patterns, re)
	}
	return s, nil
}

// Find returns what kind of secret body holds ("AWS access key",
// "pattern 2", ...), or "" when it holds none. It never returns the secret.
func (s *SecretScanner) Find(body []byte) string {
	if kind := findBuiltin(body); kind != "" {
		return kind
	}
	if s == nil {
		return ""
	}
	for i, re := range s.patterns {
		if re.Match(body) {
			return fmt.Sprintf("pattern %d", i+1)
		}
	}
	return ""
}

// findBuiltin looks for the built-in kinds. A regexp over a 150 KB prompt
// costs milliseconds, and every request pays this scan (issue 13 sets 50 µs),
// so each kind is found by a byte it must contain, with bytes.IndexByte
// (vectorised), and only the few places that byte occurs are looked at
// closely. One pass per pivot byte: '-', 'A', '_', 'J', '='.
func findBuiltin(b []byte) string {
	for _, p := range pivots {
		for i := 0; ; i++ {
			j := bytes.IndexByte(b[i:], p.c)
			if j < 0 {
				break
			}
			i += j
			if kind := p.at(b, i); kind != "" {
				return kind
			}
		}
	}
	return ""
}

var pivots = []struct {
	c  byte
	at func(b []byte, i int) string
}{
	{'-', atDash}, {'A', atA}, {'_', atUnderscore}, {'J', atJ}, {'=', atEquals},
}

// The kinds findBuiltin reports.
const (
	kindPrivateKey    = "private key"
	kindAWS           = "AWS access key"
	kindGoogle        = "Google API key"
	kindGitHub        = "GitHub token"
	kindOpenAI        = "OpenAI API key"
	kindAnthropic     = "Anthropic API key"
	kindJWT           = "JWT"
	kindEnvAssignment = ".env secret assignment"
)

var (
	// pemKey is the armour line of a private key: PKCS#1 and #8, EC, DSA,
	// OpenSSH, PuTTY-converted, encrypted, and PGP's key block.
	pemKey = regexp.MustCompile(`^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)
	// OpenAI's keys: sk-proj-, sk-svcacct-, sk-admin-, and the older
	// sk- and 48 characters. Anthropic's are sk-ant-api03-… and sk-ant-admin01-….
	anthropicKey = regexp.MustCompile(`^sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_\-]{32,}`)
	openAIKey    = regexp.MustCompile(`^sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{32,}|[A-Za-z0-9]{40,})`)
	jwt          = regexp.MustCompile(`^eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}`)
)

// atDash: a private key's armour, or an OpenAI or Anthropic key.
func atDash(b []byte, i int) string {
	if bytes.HasPrefix(b[i:], []byte("-----BEGIN ")) && pemKey.Match(window(b, i, 80)) {
		return kindPrivateKey
	}
	if i >= 2 && b[i-2] == 's' && b[i-1] == 'k' && !wordByte(b, i-3) {
		w := window(b, i-2, 200)
		switch {
		case anthropicKey.Match(w):
			return kindAnthropic
		case openAIKey.Match(w):
			return kindOpenAI
		}
	}
	return ""
}

// atA: AWS access key IDs (AKIA long-term, ASIA temporary, 16 more
// characters) and Google API keys (AIza and 35 more).
func atA(b []byte, i int) string {
	if i+4 > len(b) || wordByte(b, i-1) {
		return ""
	}
	switch string(b[i : i+4]) {
	case "AKIA", "ASIA":
		if run(b, i+4, isUpperDigit) == 16 && !wordByte(b, i+20) {
			return kindAWS
		}
	case "AIza":
		if run(b, i+4, isKeyByte) >= 35 {
			return kindGoogle
		}
	}
	return ""
}

// atUnderscore: GitHub's tokens, ghp_ (and gho_, ghu_, ghs_, ghr_) with 36
// characters, and fine-grained github_pat_ with 82.
func atUnderscore(b []byte, i int) string {
	if i >= 3 && b[i-3] == 'g' && b[i-2] == 'h' && bytes.IndexByte([]byte("pousr"), b[i-1]) >= 0 && !wordByte(b, i-4) {
		if run(b, i+1, isAlnum) >= 36 {
			return kindGitHub
		}
	}
	if i >= 6 && bytes.HasPrefix(b[i-6:], []byte("github_pat_")) && run(b, i+5, isKeyByte) >= 70 {
		return kindGitHub
	}
	return ""
}

// atJ: a JWT, two base64url JSON objects ("eyJ" is `{"`) and a signature.
func atJ(b []byte, i int) string {
	if i >= 2 && b[i-2] == 'e' && b[i-1] == 'y' && !wordByte(b, i-3) && jwt.Match(window(b, i-2, 2048)) {
		return kindJWT
	}
	return ""
}

// atEquals: a line of a .env file (or of ~/.aws/credentials) that assigns
// a secret: NAME=value at the start of a line, the name saying secret,
// password, token or key, the value the rest of the line and 8 or more
// characters that could be one. Code such as `token = getToken()` or
// `PASSWORD=os.environ["P"]` is not: the value must end the line.
func atEquals(b []byte, i int) string {
	// The name, before optional spaces.
	j := i
	for j > 0 && b[j-1] == ' ' {
		j--
	}
	end := j
	for j > 0 && isIdentByte(b[j-1]) && end-j < 64 {
		j--
	}
	if j > 0 && b[j-1] == '\\' && j < end && b[j] == 'n' {
		j++ // the n of an escaped newline starts no name
	}
	if j == end || !lineStart(b, j) || !secretName(b[j:end]) {
		return ""
	}
	// The value, after optional spaces and an optional quote (escaped in
	// JSON as \").
	k := i + 1
	for k < len(b) && b[k] == ' ' {
		k++
	}
	quote := byte(0)
	if k+1 < len(b) && b[k] == '\\' && b[k+1] == '"' {
		k, quote = k+2, '"'
	} else if k < len(b) && b[k] == '\'' {
		k, quote = k+1, '\''
	}
	n := run(b, k, isValueByte)
	if n < 8 {
		return ""
	}
	k += n
	switch {
	case quote == '"' && bytes.HasPrefix(b[k:], []byte(`\"`)):
		k += 2
	case quote == '\'' && k < len(b) && b[k] == '\'':
		k++
	case quote != 0:
		return ""
	}
	if lineEnd(b, k) {
		return kindEnvAssignment
	}
	return ""
}

// secretWords are the words a secret's name holds; matched in upper case.
var secretWords = [][]byte{[]byte("SECRET"), []byte("PASSWORD"), []byte("PASSWD"), []byte("TOKEN"),
	[]byte("API_KEY"), []byte("APIKEY"), []byte("ACCESS_KEY"), []byte("PRIVATE_KEY"), []byte("AUTH_KEY"), []byte("CREDENTIAL")}

func secretName(name []byte) bool {
	var up [64]byte
	n := copy(up[:], name)
	for i := range n {
		if c := up[i]; 'a' <= c && c <= 'z' {
			up[i] = c - 'a' + 'A'
		}
	}
	for _, w := range secretWords {
		if bytes.Contains(up[:n], w) {
			return true
		}
	}
	return false
}

// lineStart reports whether a name at j begins a line: the body's or a JSON
// string's start, an escaped newline, or "export " at one of those.
func lineStart(b []byte, j int) bool {
	if j >= 7 && string(b[j-7:j]) == "export " {
		j -= 7
	}
	return j == 0 || b[j-1] == '"' || j >= 2 && b[j-2] == '\\' && b[j-1] == 'n'
}

// lineEnd reports whether the line ends at k: the string ends, an escaped
// newline or carriage return, or spaces then a comment or one of those.
func lineEnd(b []byte, k int) bool {
	for k < len(b) && b[k] == ' ' {
		k++
	}
	return k >= len(b) || b[k] == '"' || b[k] == '#' || k+1 < len(b) && b[k] == '\\' && (b[k+1] == 'n' || b[k+1] == 'r')
}

// window is b from i, at most n bytes.
func window(b []byte, i, n int) []byte {
	if i+n > len(b) {
		return b[i:]
	}
	return b[i : i+n]
}

// run counts the bytes from i on that ok accepts.
func run(b []byte, i int, ok func(byte) bool) int {
	n := 0
	for i+n < len(b) && ok(b[i+n]) {
		n++
	}
	return n
}

// wordByte reports whether b[i] exists and continues a word, so a key
// found at i+1 would be the tail of a longer name. An escaped newline's n
// does not count.
func wordByte(b []byte, i int) bool {
	if i < 0 || i >= len(b) || !isAlnum(b[i]) {
		return false
	}
	return !(b[i] == 'n' && i > 0 && b[i-1] == '\\')
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isUpperDigit(c byte) bool { return 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

func isKeyByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func isIdentByte(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

// isValueByte: what a password or key may be made of; not quotes, spaces,
// backslashes, brackets or parentheses, which code has and secrets rarely.
func isValueByte(c byte) bool {
	return isAlnum(c) || bytes.IndexByte([]byte("+/=_-.~:@!%^&*,;?|"), c) >= 0
}

package tests

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAccessLogHasEveryRequest: the log line of each request is written
// off the request path (issue 16), yet 10,000 requests at full speed leave
// 10,000 lines, on stderr and in the log file, none lost to the SIGTERM
// that follows the last answer at once.
func TestAccessLogHasEveryRequest(t *testing.T) {
	up := newFakeOpenAI(t)
	env := userEnv(t)
	path, port := writeConfig(t, routingSetup{remoteURL: up.URL}.yaml())
	p := startAt(t, path, port, env)
	const n, workers = 10000, 8
	body := []byte(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var wg sync.WaitGroup
	var failed sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Post(p.url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
				if err == nil {
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Do(func() { t.Errorf("a request failed: %v %v", err, resp) })
				}
			}
		}()
	}
	wg.Wait()
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if got := strings.Count(p.Logs(), "msg=request "); got != n {
		t.Errorf("stderr has %d request lines, want %d", got, n)
	}
	file, err := os.ReadFile(filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter", "localrouter.log"))
	if err != nil {
		t.Fatalf("the log file: %v", err)
	}
	if got := bytes.Count(file, []byte("msg=request ")); got != n {
		t.Errorf("the log file has %d request lines, want %d", got, n)
	}
}

package sse

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchStream is a typical OpenAI chat stream: 200 small chunks and [DONE].
var benchStream = func() []byte {
	var b bytes.Buffer
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok%d\"},\"finish_reason\":null}]}\n\n", i)
	}
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}()

func benchRead(b *testing.B, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := bytes.NewReader(in)
	for b.Loop() {
		r.Reset(in)
		rd := NewReader(r)
		for {
			if _, err := rd.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkReader(b *testing.B) {
	b.Run("chunks", func(b *testing.B) { benchRead(b, benchStream) })
	b.Run("crlf", func(b *testing.B) { benchRead(b, bytes.ReplaceAll(benchStream, []byte("\n"), []byte("\r\n"))) })
	// One 1 MiB tool-call event, longer than the read buffer.
	b.Run("1MiB event", func(b *testing.B) { benchRead(b, []byte("data: "+strings.Repeat("x", 1<<20)+"\n\n")) })
}

package config

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{in: "1048576", want: 1 << 20},
		{in: "0", want: 0},
		{in: "32MiB", want: 32 << 20},
		{in: "32mib", want: 32 << 20},
		{in: "32 MiB", want: 32 << 20},
		{in: "32MB", want: 32_000_000},
		{in: "512KiB", want: 512 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "10kb", want: 10_000},
		{in: "10kB", want: 10_000},
		{in: "10KB", want: 10_000},
		{in: "100B", want: 100},
		{in: "1.5KiB", want: 1536},
		{in: "1.5GB", want: 1_500_000_000},
		{in: "lots", wantErr: true},
		{in: "", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "32M", wantErr: true},
		{in: "32 MiBs", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "1.2.3MB", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: "9223372036854775807", want: 9223372036854775807},
		{in: "9223372036854775808", wantErr: true},
		{in: "9000000TiB", wantErr: true},
		{in: "9000000.5TiB", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseByteSize(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parseByteSize(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseByteSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0B"},
		{100, "100B"},
		{1500, "1500B"},
		{10_000, "10kB"},
		{512 << 10, "512KiB"},
		{32 << 20, "32MiB"},
		{32_000_000, "32MB"},
		{1 << 30, "1GiB"},
		{3 << 40, "3TiB"},
		{1_024_000, "1000KiB"},
		{-(2 << 20), "-2MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if tt.in < 0 {
				return // sizes in a config are never negative
			}
			if back, err := parseByteSize(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("parse(String()) = %d, %v, want %d", back, err, tt.in)
			}
		})
	}
}

func TestByteSizeUnmarshalYAML(t *testing.T) {
	var v struct {
		Max ByteSize `yaml:"max"`
	}
	if err := yaml.Unmarshal([]byte("max: 64MiB"), &v); err != nil || v.Max != 64<<20 {
		t.Errorf("got %d, %v, want %d", v.Max, err, 64<<20)
	}
	if err := yaml.Unmarshal([]byte("max: lots"), &v); err == nil {
		t.Errorf("max: lots decoded, want an error")
	}
	if err := yaml.Unmarshal([]byte("max: [1]"), &v); err == nil {
		t.Errorf("max: [1] decoded, want an error")
	}
}

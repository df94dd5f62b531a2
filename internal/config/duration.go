package config

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in the file as a Go duration string
// ("5m", "720h"). A named type rather than time.Duration because yaml.v3
// would otherwise marshal and accept plain integers of nanoseconds, which
// nobody means in a config file.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d without the zero units time.Duration prints ("2h" rather
// than "2h0m0s"), so marshalled files and messages read like what people
// write. The result always parses back with time.ParseDuration.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText implements encoding.TextMarshaler; yaml.v3 and encoding/json
// both use it, so the marshalled form is the duration string.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with time.ParseDuration.
// Parse does not go through it (the decoder handles Duration itself, to put
// the line and key in messages), but yaml.Unmarshal and json.Unmarshal do.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%s is not a duration", quote(string(text)))
	}
	*d = Duration(v)
	return nil
}

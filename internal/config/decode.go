package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxErrors caps how many problems one error reports. A file of thousands of
// unknown keys (a wrong --config path) would otherwise produce an error as
// large as the file; the first few are enough to see what is wrong.
const maxErrors = 20

// errList collects problems so they can be reported together.
type errList struct {
	errs    []error
	dropped int
}

func (l *errList) add(err error) {
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, err)
}

func (l *errList) err() error {
	if l.dropped > 0 {
		return errors.Join(append(l.errs, fmt.Errorf("... and %d more errors", l.dropped))...)
	}
	return errors.Join(l.errs...)
}

// where formats the "file:line: " prefix, leaving out what is unknown.
func where(name string, line int) string {
	switch {
	case name != "" && line > 0:
		return fmt.Sprintf("%s:%d: ", name, line)
	case name != "":
		return name + ": "
	case line > 0:
		return fmt.Sprintf("line %d: ", line)
	}
	return ""
}

// quote quotes s for a message, truncated so a hostile or accidental
// megabyte-long value cannot blow up the error text.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return strconv.Quote(string(r[:max])) + "..."
	}
	return strconv.Quote(s)
}

// lines maps key paths ("issuer.url", "issuer.sub_claim_components[1]") to
// the line they were set on, so validation can point at them.
type lines map[string]int

// lineOf returns the line of key, falling back to the closest enclosing key
// that was in the file: a missing issuer.url is reported at "issuer:".
func (ls lines) lineOf(key string) int {
	for key != "" {
		if l, ok := ls[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

type decoder struct {
	name  string
	src   []byte
	lines lines
	errs  errList
}

// errorf records a problem at line. key, when not empty, prefixes the
// message so every error names the full key path.
func (d *decoder) errorf(line int, key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	d.errs.add(errors.New(where(d.name, line) + msg))
}

// decode parses data onto f, which already holds the defaults. It parses to
// a yaml.Node and walks it against f's yaml tags instead of using
// yaml.Unmarshal with KnownFields: that way unknown keys, duplicates and
// type errors all carry the full key path and line, and all are reported.
func decode(name string, data []byte, f *File) (lines, error) {
	d := &decoder{name: name, src: data, lines: lines{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return d.lines, nil // empty file or only comments: all defaults
		}
		return nil, d.syntaxError(err)
	}
	// A second document would be silently ignored by a single Decode; the
	// operator surely meant it to count, so refuse it.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, d.syntaxError(err)
	default:
		return nil, errors.New(where(name, extra.Line) + "multiple YAML documents in one file are not supported")
	}

	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return d.lines, nil
		}
		root = doc.Content[0]
	}
	if !d.plain(root, "") {
		return nil, d.errs.err()
	}
	switch {
	case isNull(root): // "---" alone: an empty document
	case root.Kind != yaml.MappingNode || root.ShortTag() != "!!map":
		d.errorf(root.Line, "", "the top level must be a mapping of keys, got %s", describe(root))
	default:
		d.decodeStruct(root, reflect.ValueOf(f).Elem(), "")
	}
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return d.lines, nil
}

// yamlErrLine matches yaml.v3's syntax errors, which carry the line only as
// text: "yaml: line 3: mapping values are not allowed in this context".
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yaml.v3 numbers lines inconsistently: scanner errors are 1-based, but
// parser errors (these messages, from parserc.go) are 0-based, and any
// error on the first line has no number at all. Reader errors (bad
// encoding) have no line either, whatever line they are on.
var (
	yamlParserProblems = map[string]bool{
		"did not find expected ',' or ']'":       true,
		"did not find expected ',' or '}'":       true,
		"did not find expected '-' indicator":    true,
		"did not find expected <document start>": true,
		"did not find expected <stream-start>":   true,
		"did not find expected key":              true,
		"did not find expected node content":     true,
		"found duplicate %TAG directive":         true,
		"found duplicate %YAML directive":        true,
		"found incompatible YAML document":       true,
		"found undefined tag handle":             true,
	}
	yamlReaderProblems = map[string]bool{
		"invalid leading UTF-8 octet":        true,
		"incomplete UTF-8 octet sequence":    true,
		"invalid trailing UTF-8 octet":       true,
		"invalid length of a UTF-8 sequence": true,
		"invalid Unicode character":          true,
		"control characters are not allowed": true,
	}
)

// syntaxError rewrites a yaml.v3 parse error into the file:line form used by
// every other message, correcting yaml.v3's line numbers.
func (d *decoder) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(err.Error(), m[0])
	}
	switch {
	case yamlParserProblems[msg]:
		line++
	case yamlReaderProblems[msg]:
		line = badCharLine(d.src)
	case line == 0:
		line = 1
	}
	// yaml.v3's message for a tab is cryptic; tabs are the usual cause
	// of it in hand-written files.
	if strings.Contains(msg, "cannot start any token") && bytes.Contains(d.sourceLine(line), []byte("\t")) {
		msg += " (tabs are not allowed in YAML indentation)"
	}
	return errors.New(where(d.name, line) + "invalid YAML: " + msg)
}

// badCharLine returns the line of the first byte sequence yaml.v3's reader
// rejects (invalid UTF-8 or a character YAML does not allow), or 0 if there
// is none or the input is UTF-16, which yaml.v3 also accepts.
func badCharLine(src []byte) int {
	if bytes.HasPrefix(src, []byte{0xff, 0xfe}) || bytes.HasPrefix(src, []byte{0xfe, 0xff}) {
		return 0
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 || !yamlAllowed(r) {
			return 1 + bytes.Count(src[:i], []byte("\n"))
		}
		i += size
	}
	return 0
}

// yamlAllowed is YAML 1.2's c-printable, as yaml.v3's reader checks it.
func yamlAllowed(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85:
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
	default:
		return false
	}
	return true
}

// sourceLine returns line n (1-based) of the input, or nil.
func (d *decoder) sourceLine(n int) []byte {
	rest := d.src
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			return nil
		}
		rest = rest[j+1:]
	}
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// plain rejects anchors and aliases. Nothing in this schema benefits from
// them, and refusing them rules out alias-expansion attacks and the
// confusion of a value defined far from where it is used.
func (d *decoder) plain(n *yaml.Node, key string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		d.errorf(n.Line, key, "aliases (*%s) are not supported", n.Value)
		return false
	case n.Anchor != "":
		d.errorf(n.Line, key, "anchors (&%s) are not supported", n.Anchor)
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		if tag := n.ShortTag(); tag != "!!map" {
			return "a mapping tagged " + quote(tag)
		}
		return "a mapping"
	case yaml.SequenceNode:
		if tag := n.ShortTag(); tag != "!!seq" {
			return "a list tagged " + quote(tag)
		}
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "an empty value"
	case "!!str":
		return "string " + quote(n.Value)
	case "!!int":
		return "integer " + quote(n.Value)
	case "!!float":
		return "number " + quote(n.Value)
	case "!!bool":
		return "boolean " + quote(n.Value)
	default:
		return quote(tag) + " value " + quote(n.Value)
	}
}

// fieldsByKey maps the yaml tag names of struct type t to field indexes.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = i
	}
	return m
}

func joinKey(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// decodeStruct decodes mapping n onto struct v. Keys it does not set keep
// their current (default) values.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		// "store:" with every child commented out: an empty section, not
		// an error, and the defaults stand.
		return
	}
	// A custom tag ("!foo {url: ...}") would be ignored; refuse it rather
	// than let it look meaningful.
	if n.Kind != yaml.MappingNode || n.ShortTag() != "!!map" {
		d.errorf(n.Line, path, "expected a mapping of keys, got %s", describe(n))
		return
	}
	fields := fieldsByKey(v.Type())
	// yaml.v3 checks duplicate keys only when decoding into Go values, not
	// into a yaml.Node, so check here (and with the line of both).
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.plain(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "keys must be strings, got %s", describe(k))
			continue
		}
		key := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "", "duplicate key %s (first defined on line %d)", quote(key), first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k.Line, "", "unknown key %s", quote(key))
			continue
		}
		d.lines[key] = k.Line
		d.decodeValue(val, v.Field(idx), key)
	}
}

var durationType = reflect.TypeFor[Duration]()

// decodeValue decodes n onto v, whose type must be one the schema uses. The
// schema is fixed, so an unsupported type is a programming error and panics
// (the full-config test exercises every field).
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, key string) {
	if !d.plain(n, key) {
		return
	}
	if v.Kind() != reflect.Struct && isNull(n) {
		// "key:" with nothing after it. Treating it as "use the default"
		// would make "rotation_period:" mean 720h, when its author may
		// well have meant 0; make them say.
		d.errorf(n.Line, key, "missing value")
		return
	}
	switch {
	case v.Type() == durationType:
		d.decodeDuration(n, v, key)
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, key)
	case v.Kind() == reflect.String:
		if s, ok := d.str(n, key); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		d.decodeStrings(n, v, key)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
		d.decodeSections(n, v, key)
	case v.Kind() == reflect.Int:
		d.decodeInt(n, v, key)
	case v.Kind() == reflect.Bool:
		d.decodeBool(n, v, key)
	default:
		panic(fmt.Sprintf("config: no decoder for %s of type %s", key, v.Type()))
	}
}

// str returns n's value if it is a string. Plain scalars YAML resolves to
// another type (8080, true, 1.5) are refused rather than converted: quoting
// costs nothing and a string field holding "true" is usually a mistake.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		switch n.ShortTag() {
		case "!!int", "!!float", "!!bool":
			hint = " (quote it if it is meant as a string)"
		}
		d.errorf(n.Line, key, "expected a string, got %s%s", describe(n), hint)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, key string) {
	// "0" resolves to !!int; it must be accepted because
	// "rotation_period: 0" is how automatic rotation is turned off.
	switch tag := n.ShortTag(); {
	case n.Kind != yaml.ScalarNode, tag != "!!str" && tag != "!!int" && tag != "!!float":
		d.errorf(n.Line, key, "expected a duration such as \"5m\", got %s", describe(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n.Line, key, "%s is not a duration (want e.g. \"90s\", \"5m\", \"2h\")", quote(n.Value))
		return
	}
	v.SetInt(int64(dur))
}

// decodeStrings replaces (never appends to) the default list.
func (d *decoder) decodeStrings(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode || n.ShortTag() != "!!seq" {
		d.errorf(n.Line, key, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		ek := fmt.Sprintf("%s[%d]", key, i)
		d.lines[ek] = el.Line
		if !d.plain(el, ek) {
			continue
		}
		if isNull(el) {
			d.errorf(el.Line, ek, "missing value")
			continue
		}
		if s, ok := d.str(el, ek); ok {
			out.Index(i).SetString(s)
		}
	}
	v.Set(out)
}

// decodeSections decodes a list of mappings ("roles:", "oidc_providers:"),
// each element keyed as key[i] in messages and line lookups.
func (d *decoder) decodeSections(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode || n.ShortTag() != "!!seq" {
		d.errorf(n.Line, key, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, el := range n.Content {
		ek := fmt.Sprintf("%s[%d]", key, i)
		d.lines[ek] = el.Line
		if isNull(el) {
			d.errorf(el.Line, ek, "missing value")
			continue
		}
		d.decodeStruct(el, out.Index(i), ek)
	}
	v.Set(out)
}

// decodeInt accepts a YAML integer only ("3600", not "1h" or "3600.0").
func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n.Line, key, "expected an integer, got %s", describe(n))
		return
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || int64(int(i)) != i {
		d.errorf(n.Line, key, "%s is not a decimal integer in range", quote(n.Value))
		return
	}
	v.SetInt(i)
}

// decodeBool accepts true/false only (YAML 1.2: no yes/no/on/off).
func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || (n.Value != "true" && n.Value != "false") {
		d.errorf(n.Line, key, "expected true or false, got %s", describe(n))
		return
	}
	v.SetBool(n.Value == "true")
}

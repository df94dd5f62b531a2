package lint

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// maxLineDepth bounds the walk: a policy nests five deep; deeper parts are never reported.
const maxLineDepth = 6

// lineIndex maps the paths findings use (Statement[0], Statement[0].Principal.Federated,
// Statement[0].Condition.StringLike["gitlab.com:sub"]) to the 1-based line each starts on.
type lineIndex map[string]int

// indexLines walks doc as JSON. It keeps what it found before any syntax error, so a document
// that is JSON but not a valid policy still gets lines.
func indexLines(doc []byte) lineIndex {
	idx := lineIndex{}
	dec := jsontext.NewDecoder(bytes.NewReader(doc), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	line := func() int {
		end := int(dec.InputOffset()) - 1 // the last byte of the token just read
		if end < 0 {
			end = 0
		}
		return bytes.Count(doc[:end], []byte{'\n'}) + 1
	}
	var walk func(path string, depth int) bool
	// walk reads one value whose first token has not been read yet; path is where it is,
	// "" for a part no finding points into.
	walk = func(path string, depth int) bool {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if path != "" {
			if _, seen := idx[path]; !seen {
				idx[path] = line()
			}
			if path == "Statement" && tok.Kind() == '{' {
				idx["Statement[0]"] = line() // a single statement object instead of a list
			}
		}
		switch tok.Kind() {
		case '{':
			for dec.PeekKind() != '}' {
				name, err := dec.ReadToken()
				if err != nil {
					return false
				}
				child := childPath(path, depth, name.String())
				if child != "" {
					idx[child] = line()
				}
				if !walk(child, depth+1) {
					return false
				}
			}
		case '[':
			for i := 0; dec.PeekKind() != ']'; i++ {
				child := ""
				if path == "Statement" {
					child = "Statement[" + strconv.Itoa(i) + "]"
				}
				if !walk(child, depth+1) {
					return false
				}
			}
		default:
			return true
		}
		_, err = dec.ReadToken() // '}' or ']'
		return err == nil
	}
	walk("", 0)
	return idx
}

// childPath is the path of member name of the object at path (depth: the object's nesting).
func childPath(path string, depth int, name string) string {
	switch {
	case depth >= maxLineDepth:
		return ""
	case path == "" && depth == 0:
		if name == "Statement" {
			return name
		}
		return ""
	case path == "Statement":
		// A single statement object instead of a list.
		return childPath("Statement[0]", depth, name)
	case path == "":
		return ""
	case strings.Count(path, ".") == 2 && strings.Contains(path, ".Condition."):
		return path + "[" + strconv.Quote(name) + "]" // a condition key under its operator
	}
	return path + "." + name
}

// lineOf is the line of path, or of the nearest enclosing path indexed; 0 if none.
func (idx lineIndex) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := idx[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

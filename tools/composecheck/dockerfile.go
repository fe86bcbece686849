package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// source is one COPY/ADD source taken from the build context.
type source struct {
	path        string
	line        int
	instruction string
}

var argDefault = regexp.MustCompile(`^(\w+)=(\S+)$`)
var argRef = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// copySources lists the build-context sources of a Dockerfile's COPY and ADD lines: not
// those copied from a stage or image (--from), here-documents or URLs. ARG defaults are
// substituted; a reference to an ARG without a default is left as is (reported).
func copySources(text string) []source {
	args := map[string]string{}
	var out []source
	for _, ins := range instructions(text) {
		fields := strings.Fields(ins.text)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			for _, f := range fields[1:] {
				if m := argDefault.FindStringSubmatch(f); m != nil {
					args[m[1]] = strings.Trim(m[2], `"'`)
				}
			}
		case "COPY", "ADD":
			out = append(out, instructionSources(ins, fields, args)...)
		}
	}
	return out
}

func instructionSources(ins instruction, fields []string, args map[string]string) []source {
	rest := fields[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
		if strings.HasPrefix(rest[0], "--from") {
			return nil
		}
		rest = rest[1:]
	}
	body := strings.Join(rest, " ")
	var parts []string
	if strings.HasPrefix(body, "[") {
		if json.Unmarshal([]byte(body), &parts) != nil {
			parts = nil
		}
	} else {
		parts = rest
	}
	if len(parts) < 2 {
		return nil
	}
	var out []source
	for _, p := range parts[:len(parts)-1] {
		if strings.HasPrefix(p, "<<") || strings.Contains(p, "://") {
			continue
		}
		p = argRef.ReplaceAllStringFunc(p, func(ref string) string {
			name := strings.Trim(ref, "${}")
			if v, ok := args[name]; ok {
				return v
			}
			return ref
		})
		out = append(out, source{path: p, line: ins.line, instruction: strings.Join(fields, " ")})
	}
	return out
}

type instruction struct {
	text string
	line int
}

// instructions joins continuation lines (a trailing backslash) and drops comments.
func instructions(text string) []instruction {
	var out []instruction
	var cur []string
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && len(cur) == 0) {
			continue
		}
		if len(cur) == 0 {
			start = i + 1
		}
		cont := strings.HasSuffix(line, "\\")
		cur = append(cur, strings.TrimSuffix(line, "\\"))
		if !cont {
			out = append(out, instruction{text: strings.Join(cur, " "), line: start})
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, instruction{text: strings.Join(cur, " "), line: start})
	}
	return out
}

// ignoreRules is a .dockerignore: patterns in order, a leading "!" re-includes.
type ignoreRules struct {
	file     string
	patterns []*regexp.Regexp
	negate   []bool
}

// readIgnore reads <dockerfile>.dockerignore if present, else <context>/.dockerignore.
func readIgnore(context, dockerfile string) ignoreRules {
	for _, file := range []string{dockerfile + ".dockerignore", filepath.Join(context, ".dockerignore")} {
		text, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		rules := ignoreRules{file: file}
		for _, line := range strings.Split(string(text), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			neg := strings.HasPrefix(line, "!")
			pattern := filepath.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
			rules.patterns = append(rules.patterns, globRegexp(pattern))
			rules.negate = append(rules.negate, neg)
		}
		return rules
	}
	return ignoreRules{}
}

// excludes reports whether path (relative to the context) or a folder above it is
// excluded; the last matching pattern wins, as in Docker.
func (r ignoreRules) excludes(path string) bool {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		excluded := false
		for j, re := range r.patterns {
			if re.MatchString(prefix) {
				excluded = !r.negate[j]
			}
		}
		if excluded {
			return true
		}
	}
	return false
}

// globRegexp turns a .dockerignore pattern (`*`, `?`, `**`) into an anchored regexp.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

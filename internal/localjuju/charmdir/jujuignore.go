package charmdir

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
)

// defaultJujuIgnore is prepended to a charm's .jujuignore, as juju/charm
// does when archiving a charm directory. /revision and /version are
// excluded because Juju writes its own.
const defaultJujuIgnore = `
.git
.svn
.hg
.bzr
.tox

/build/
/revision
/version

.jujuignore
`

type ignoreRule struct {
	re      *regexp.Regexp
	negate  bool
	dirOnly bool
}

type ignoreRules []ignoreRule

var ignoreUnescaper = strings.NewReplacer(`\#`, "#", `\!`, "!", `\ `, " ")

// parseIgnoreRules reads .jujuignore syntax (gitignore-like): blank lines
// and "#" comments are skipped; "!" negates; a trailing "/" restricts the
// rule to directories; a leading "/" anchors at the charm root, otherwise
// the pattern matches at any depth; "*" and "?" stay within a path
// segment, "**" crosses segments; "[...]" and "{a,b}" are supported.
func parseIgnoreRules(r io.Reader) (ignoreRules, error) {
	var rules ignoreRules
	s := bufio.NewScanner(r)
	line := 0
	for s.Scan() {
		line++
		rule := strings.TrimLeftFunc(s.Text(), unicode.IsSpace)
		if rule == "" || rule[0] == '#' {
			continue
		}
		ir := ignoreRule{}
		if strings.HasPrefix(rule, "!") {
			ir.negate = true
			rule = rule[1:]
		}
		// Trim unescaped trailing spaces.
		for len(rule) > 1 && rule[len(rule)-1] == ' ' && rule[len(rule)-2] != '\\' {
			rule = rule[:len(rule)-1]
		}
		rule = ignoreUnescaper.Replace(rule)
		if strings.HasSuffix(rule, "/") {
			rule = strings.TrimSuffix(rule, "/")
			ir.dirOnly = true
		}
		rule = strings.TrimPrefix(rule, "**/")
		if !strings.HasPrefix(rule, "/") {
			rule = "**/" + rule
		}
		re, err := globToRegexp(rule)
		if err != nil {
			return nil, fmt.Errorf("[line %d]: %v", line, err)
		}
		ir.re = re
		rules = append(rules, ir)
	}
	return rules, s.Err()
}

// globToRegexp compiles a glob with "/" as separator.
func globToRegexp(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				// "/**/" also matches a single "/".
				if i+1 < len(g) && g[i+1] == '/' && (i-2 < 0 || g[i-2] == '/') {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(g[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed '[' in pattern %q", g)
			}
			class := g[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '{':
			j := strings.IndexByte(g[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("unclosed '{' in pattern %q", g)
			}
			alts := strings.Split(g[i+1:i+j], ",")
			for k, a := range alts {
				alts[k] = regexp.QuoteMeta(a)
			}
			b.WriteString("(?:" + strings.Join(alts, "|") + ")")
			i += j
		case '\\':
			if i+1 < len(g) {
				i++
				b.WriteString(regexp.QuoteMeta(string(g[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Match reports whether the slash-separated path (relative to the charm
// root) is ignored.
func (rs ignoreRules) Match(path string, isDir bool) bool {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	keep := true
	for _, r := range rs {
		if r.dirOnly && !isDir {
			continue
		}
		if !r.re.MatchString(path) {
			continue
		}
		keep = r.negate
	}
	return !keep
}

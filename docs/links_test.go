// Package docs holds the repository's documentation; its test checks that
// every relative link in the Markdown files resolves inside the repository.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// linkRe finds inline Markdown links and images: [text](target "title").
var linkRe = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// headingRe finds ATX headings, for #anchor targets.
var headingRe = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)

// markdownFiles are the files whose links are checked: the README, the
// docs (runbooks included), and every README and Markdown file under
// pkg/, alerting/, testdata/ and exporter/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join("..", "README.md")}
	for _, root := range []string{".", "../pkg", "../alerting", "../testdata", "../exporter", "../internal"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "artifacts") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return files
}

// slug is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces to hyphens.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = regexp.MustCompile("[`*]").ReplaceAllString(h, "")
	h = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127 && !strings.ContainsRune("—–…’“”§·→←", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, file string, cache map[string]map[string]bool) map[string]bool {
	if a, ok := cache[file]; ok {
		return a
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	a := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if m := headingRe.FindStringSubmatch(line); m != nil && !inFence {
			s := slug(m[1])
			for i := 0; a[s]; i++ { // repeated headings get -1, -2 …
				s = slug(m[1]) + "-" + string(rune('1'+i))
			}
			a[s] = true
		}
	}
	cache[file] = a
	return a
}

// TestRelativeLinksResolve: every relative link of the repository's
// Markdown names a file or directory that exists, and every #anchor a
// heading of its target.
func TestRelativeLinksResolve(t *testing.T) {
	cache := map[string]map[string]bool{}
	checked := 0
	for _, f := range markdownFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inFence := false
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
				continue
			}
			if inFence {
				continue
			}
			// Inline code is not a link.
			line = regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "")
			for _, m := range linkRe.FindAllStringSubmatchIndex(line, -1) {
				target := line[m[2]:m[3]]
				col := m[0] + 1
				if regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(target) {
					continue // http:, https:, mailto: …
				}
				checked++
				path, anchor, _ := strings.Cut(target, "#")
				dest := f
				if path != "" {
					dest = filepath.Join(filepath.Dir(f), path)
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d:%d: link %q: no such file in the repository", f, n+1, col, target)
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest, cache)[anchor] {
					t.Errorf("%s:%d:%d: link %q: %s has no heading with anchor #%s", f, n+1, col, target, dest, anchor)
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links checked: the scanner misses links", checked)
	}
}

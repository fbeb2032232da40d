package sqlx

import (
	"bytes"
	"regexp"
)

// contentPatterns are the lowercase substrings that make the content of a
// literal (or of a quoted identifier) matter to Analyze: every keyword of a
// raw-text rule that could match inside a literal (the rules whose
// expression needs "(" are covered by "(" alone), the words lexDML looks for,
// the masks the parser fallback replaces, and the comment openers. A word
// "or" followed by whitespace (the lexer-path tautology rule) is checked
// separately.
var contentPatterns = []string{
	"(", "#", "--", "/*", "@@", "***", "<redacted", "<secret",
	"where", "limit", "union", "waitfor", "outfile", "dumpfile", "infile", "load_file",
	"s3", "soname", "sp_configure", "xp_cmdshell", "lo_import", "lo_export", "dbms_",
	"information_schema", "performance_schema", "pg_", "password", "mysql.user",
	"authentication_string", "current_user", "with grant option", "with admin option",
}

var (
	contentSingle  [256]bool      // one-byte patterns
	contentBigram  [256][4]uint64 // first two bytes of longer patterns
	contentByFirst [256][]string  // longer patterns by their first byte
)

func init() {
	for _, p := range contentPatterns {
		if len(p) == 1 {
			contentSingle[p[0]] = true
			continue
		}
		contentBigram[p[0]][p[1]>>6] |= 1 << (p[1] & 63)
		contentByFirst[p[0]] = append(contentByFirst[p[0]], p)
	}
	contentBigram['o']['r'>>6] |= 1 << ('r' & 63)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// contentDanger reports whether the content of a literal holds a
// pattern of contentPatterns (ASCII case-insensitive) or a word "or"
// followed by whitespace.
func contentDanger(s string) bool {
	if s == "" {
		return false
	}
	c := lowerByte(s[0])
	for k := 0; k < len(s); k++ {
		if contentSingle[c] {
			return true
		}
		if k+1 >= len(s) {
			break
		}
		c1 := lowerByte(s[k+1])
		if contentBigram[c][c1>>6]&(1<<(c1&63)) != 0 {
			if c == 'o' && c1 == 'r' && (k == 0 || !isWordByte(s[k-1])) && k+2 < len(s) && isRegexpSpace(s[k+2]) {
				return true
			}
			for _, p := range contentByFirst[c] {
				if p[1] == c1 && hasFoldPrefix(s[k:], p) {
					return true
				}
			}
		}
		c = c1
	}
	return false
}

// hasFoldPrefix reports whether s starts with the lowercase p, ASCII
// case-insensitively.
func hasFoldPrefix(s, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lowerByte(s[i]) != p[i] {
			return false
		}
	}
	return true
}

// keyPatterns refuse a whole key when they are in the text outside
// literals: their rules read the literals next to them (file paths,
// setting names, .* across a literal, CHAR(n) digits) or the masks the
// parser fallback rewrites with the quotes around them.
var keyPatterns = [][]byte{
	[]byte("extractvalue"), []byte("outfile"), []byte("dumpfile"), []byte("infile"),
	[]byte("load_file"), []byte("pg_read"), []byte("pg_stat_file"), []byte("pg_ls_dir"),
	[]byte("pg_file_write"), []byte("lo_import"), []byte("lo_export"), []byte("xp_cmdshell"),
	[]byte("soname"), []byte("audit_log_"), []byte("sp_configure"), []byte("current_setting"),
	[]byte("***"), []byte("<redacted"), []byte("<secret"), []byte("--"), []byte("#"), []byte("/*"),
}

var keyCharRe = regexp.MustCompile(`\bchar\s*\(`)

// keySafe is the check of a fingerprint key made once, when the key is
// first seen: the parts of the text outside literals are the same for every
// statement of the key.
func keySafe(key []byte) bool {
	low := bytes.ToLower(key)
	for _, p := range keyPatterns {
		if bytes.Contains(low, p) {
			return false
		}
	}
	return !keyCharRe.Match(low)
}

package drift

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// secretKeyRe marks secret-class key names (pkg/drift/README.md).
var secretKeyRe = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|access_?key|private_?key|_KEY$|signing-key|adaptertoken|ssaccessstring|passwords)`)

// flagKeyRe excludes switches whose names mention secrets
// (enableStrongPassword, cors.allowCredentials, REDASH_PASSWORD_LOGIN_ENABLED).
var flagKeyRe = regexp.MustCompile(`(?i)(^(enable|allow|disable|use|require|force|skip)|_ENABLED$|enabled$|_USE_SSL$|_(MAX_AGE|EXPIRY|LENGTH|DURATION)$)`)

var secretKeyCache sync.Map // key -> bool

// IsSecretKey reports whether key names a secret-class setting.
func IsSecretKey(key string) bool {
	if v, ok := secretKeyCache.Load(key); ok {
		return v.(bool)
	}
	v := isSecretKey(key)
	secretKeyCache.Store(key, v)
	return v
}

func isSecretKey(key string) bool {
	last := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 && !strings.HasSuffix(key, `"`) {
		last = key[i+1:]
	}
	if flagKeyRe.MatchString(last) {
		return false
	}
	return secretKeyRe.MatchString(last)
}

// Redactor turns values into output-safe strings. Secret-class values are
// replaced by "<redacted:hmac=XXXXXXXXXXXX>" (HMAC-SHA256 under the
// installation key, 12 hex digits) or "<redacted>" without a key. URL
// userinfo passwords are redacted in place.
//
// A Redactor is safe for concurrent use.
type Redactor struct {
	key  []byte
	defs *Defaults
}

// NewRedactor returns a Redactor using key for HMACs (may be nil).
func NewRedactor(key []byte, defs *Defaults) *Redactor { return &Redactor{key: key, defs: defs} }

// HMAC returns the truncated keyed digest of v ("" without a key).
func (r *Redactor) HMAC(v string) string {
	if len(r.key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))[:12]
}

func (r *Redactor) token(v string) string {
	if h := r.HMAC(v); h != "" {
		return "<redacted:hmac=" + h + ">"
	}
	return "<redacted>"
}

// IsSecret reports whether the value of key must be redacted: a
// secret-class key, a URL carrying a password, or a value from the
// known-secrets catalogue.
func (r *Redactor) IsSecret(key string, v any) bool {
	s, ok := v.(string)
	if IsSecretKey(key) {
		return !ok || s != ""
	}
	if !ok {
		if l, isList := v.([]any); isList {
			for _, e := range l {
				if r.IsSecret(key, e) {
					return true
				}
			}
		}
		return false
	}
	if _, has := urlPassword(s); has {
		return true
	}
	return r.defs != nil && s != "" && r.defs.anyKnownSecret(s)
}

// Value renders v for output, redacted if secret.
func (r *Redactor) Value(key string, v any) string {
	s := render(v)
	if !r.IsSecret(key, v) {
		return s
	}
	if str, ok := v.(string); ok && !IsSecretKey(key) {
		if u, has := urlPassword(str); has {
			pw, _ := u.User.Password()
			u.User = url.UserPassword(u.User.Username(), "REDACTEDPW")
			return strings.Replace(u.String(), "REDACTEDPW", r.token(pw), 1)
		}
	}
	return r.token(s)
}

// urlPassword parses s as a URL with userinfo that carries a password.
func urlPassword(s string) (*url.URL, bool) {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return nil, false
	}
	if _, ok := u.User.Password(); !ok {
		return nil, false
	}
	return u, true
}

// render formats a config value deterministically.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if s, ok := e.(string); ok {
				parts[i] = fmt.Sprintf("%q", s)
			} else {
				parts[i] = render(e)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		return fmt.Sprintf("<%d tables>", len(x))
	case map[string]any:
		return fmt.Sprintf("<table with %d keys>", len(x))
	}
	return fmt.Sprint(v)
}

package backups

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// S3Endpoint is the relation endpoint of the S3 repository (interface
// s3, the s3-integrator charm's protocol).
const S3Endpoint = "s3-parameters"

// IOTimeoutOption is the config option for pgBackRest's io-timeout.
const IOTimeoutOption = "backup_io_timeout"

// defaultS3Endpoint is AWS's, as the s3-integrator's users expect when
// they leave endpoint unset.
const defaultS3Endpoint = "https://s3.amazonaws.com"

// s3Required are the provider's keys without which there is no
// repository.
var s3Required = []string{"bucket", "access-key", "secret-key"}

// ParseS3 reads the provider's application databag (the s3-integrator's
// protocol: bucket, access-key, secret-key, endpoint, region, path,
// s3-uri-style, tls-ca-chain as a JSON list of PEM certificates,
// storage-class, delete-older-than-days) into pgBackRest's repository.
// problem says what is wrong, naming the key, "" when nothing is. It is
// pure. storage-class is not used: pgBackRest 2.45 has no option for it.
func ParseS3(data map[string]string) (s3 pgbackrest.S3, problem string) {
	var missing []string
	for _, k := range s3Required {
		if strings.TrimSpace(data[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return pgbackrest.S3{}, "missing " + strings.Join(missing, ", ") + " (juju run <s3-integrator>/leader sync-s3-credentials, juju config <s3-integrator> bucket=...)"
	}
	s3 = pgbackrest.S3{Bucket: strings.TrimSpace(data["bucket"]), Key: strings.TrimSpace(data["access-key"]),
		Secret: strings.TrimSpace(data["secret-key"]), Region: strings.TrimSpace(data["region"])}
	if s3.Region == "" {
		s3.Region = "us-east-1"
	}
	ep := strings.TrimSpace(data["endpoint"])
	if ep == "" {
		ep = defaultS3Endpoint
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil || u.Hostname() == "":
		return pgbackrest.S3{}, fmt.Sprintf("invalid endpoint %q", data["endpoint"])
	case u.Scheme != "https":
		return pgbackrest.S3{}, fmt.Sprintf("endpoint %q: pgBackRest speaks only HTTPS to S3", data["endpoint"])
	}
	s3.Host, s3.Port = u.Hostname(), 443
	if p := u.Port(); p != "" {
		if s3.Port, err = strconv.Atoi(p); err != nil || s3.Port <= 0 || s3.Port > 65535 {
			return pgbackrest.S3{}, fmt.Sprintf("invalid endpoint %q: bad port", data["endpoint"])
		}
	}
	if u.Path != "" && u.Path != "/" {
		// An endpoint with a path is not an S3 endpoint pgBackRest can use.
		return pgbackrest.S3{}, fmt.Sprintf("invalid endpoint %q: an endpoint has no path (put it in path)", data["endpoint"])
	}
	s3.Path = "/" + strings.Trim(strings.TrimSpace(data["path"]), "/")
	switch style := strings.TrimSpace(data["s3-uri-style"]); style {
	case "host", "path":
		s3.URIStyle = style
	case "":
		// A bucket cannot be a host name under an address.
		s3.URIStyle = "host"
		if _, err := netip.ParseAddr(s3.Host); err == nil {
			s3.URIStyle = "path"
		}
	default:
		return pgbackrest.S3{}, fmt.Sprintf("invalid s3-uri-style %q: want host or path", style)
	}
	if v := strings.TrimSpace(data["delete-older-than-days"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 9999999 {
			return pgbackrest.S3{}, fmt.Sprintf("invalid delete-older-than-days %q: want 1 to 9999999", v)
		}
		s3.RetentionDays = n
	}
	if v := strings.TrimSpace(data["tls-ca-chain"]); v != "" {
		ca, err := parseCAChain(v)
		if err != nil {
			return pgbackrest.S3{}, "invalid tls-ca-chain: " + err.Error()
		}
		s3.CA = ca
	}
	if err := s3.Check(); err != nil {
		return pgbackrest.S3{}, err.Error()
	}
	return s3, ""
}

// parseCAChain reads tls-ca-chain: a JSON list of PEM certificates (or,
// leniently, PEM text), each of which must parse.
func parseCAChain(v string) (string, error) {
	var pems []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(v), &pems); err != nil {
			return "", fmt.Errorf("not a JSON list of PEM certificates: %v", err)
		}
	} else {
		pems = []string{v}
	}
	var out strings.Builder
	n := 0
	for _, p := range pems {
		rest := []byte(p)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return "", fmt.Errorf("a %s block where certificates are expected", b.Type)
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return "", fmt.Errorf("certificate %d: %v", n+1, err)
			}
			out.Write(pem.EncodeToMemory(b))
			n++
		}
	}
	if n == 0 {
		return "", fmt.Errorf("no PEM certificate")
	}
	return out.String(), nil
}

// s3Identity names an S3 repository in StanzaCreatedKey: where it is and
// a digest of what reaches it (credentials, CA), so that new credentials
// are tried at once rather than at the next retry.
func s3Identity(s pgbackrest.S3) string {
	h := sha256.New()
	for _, v := range []string{s.Key, s.Secret, s.CA, s.Region, s.URIStyle} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("s3://%s:%d/%s%s#%s", s.Host, s.Port, s.Bucket, s.Path, hex.EncodeToString(h.Sum(nil))[:12])
}

// RepoName names a repository for people and action results.
func RepoName(r pgconf.BackupRepo, repo int) string {
	switch repo {
	case pgbackrest.RepoPosix:
		return "repo1 posix " + r.Path
	case pgbackrest.RepoS3:
		return fmt.Sprintf("repo2 s3 %s%s at %s", r.S3.Bucket, r.S3.Path, r.S3.Host)
	}
	return "repo" + strconv.Itoa(repo)
}

// Repos are the configured repositories' numbers, in order.
func Repos(r pgconf.BackupRepo) []int {
	var out []int
	if r.Path != "" {
		out = append(out, pgbackrest.RepoPosix)
	}
	if r.S3.Configured() {
		out = append(out, pgbackrest.RepoS3)
	}
	sort.Ints(out)
	return out
}

// RepoParam is the actions' repo parameter.
const RepoParam = "repo"

// ChooseRepo is the repository an action uses: the one the repo
// parameter names (posix or s3), else the default, posix when there is
// one (the actions' behaviour before S3), else S3. It is pure.
func ChooseRepo(r pgconf.BackupRepo, param string) (int, error) {
	have := Repos(r)
	switch param {
	case "":
		if len(have) == 0 {
			return 0, fmt.Errorf("no backup repository")
		}
		return have[0], nil
	case "posix", "1":
		if r.Path == "" {
			return 0, fmt.Errorf("repo=posix: no posix repository (set %s)", PathOption)
		}
		return pgbackrest.RepoPosix, nil
	case "s3", "2":
		if !r.S3.Configured() {
			return 0, fmt.Errorf("repo=s3: no S3 repository (relate %s to an s3-integrator)", S3Endpoint)
		}
		return pgbackrest.RepoS3, nil
	}
	return 0, fmt.Errorf("invalid repo %q: want posix or s3", param)
}

package pgbackrest

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// The charm's repositories: posix (config backup_path) is always repo1,
// S3 (the s3-parameters relation) always repo2, whichever exists, so a
// repository keeps its number (and its backups their repo-key) when the
// other comes or goes.
const (
	RepoPosix = 1
	RepoS3    = 2
)

// S3 is an S3 repository as pgBackRest takes it.
type S3 struct {
	Bucket string
	// Host and Port are the endpoint's (pgBackRest talks HTTPS only).
	Host string
	Port int
	// Region is required by pgBackRest's request signing.
	Region string
	// Path is the repository's path inside the bucket, starting with "/".
	Path string
	// URIStyle is "host" or "path".
	URIStyle string
	// Key and Secret are the access key and its secret: they go into
	// the unit's pgbackrest.conf (root-owned, group postgres, 0640) and
	// nowhere else.
	Key, Secret string
	// CAFile is the file holding the provider's CA chain, CA; "" for
	// the system's trust store.
	CAFile, CA string
	// RetentionDays is the provider's delete-older-than-days; 0 for none.
	RetentionDays int
}

// Configured reports whether s is a repository.
func (s S3) Configured() bool { return s.Bucket != "" }

// Check refuses values that would change the configuration file's
// meaning (a line break) or that pgBackRest cannot use.
func (s S3) Check() error {
	for _, v := range []string{s.Bucket, s.Host, s.Region, s.Path, s.URIStyle, s.Key, s.Secret, s.CAFile} {
		if strings.ContainsAny(v, "\n\r\x00") {
			return errors.New("a line break in an S3 value")
		}
	}
	switch {
	case s.Bucket == "", s.Host == "", s.Key == "", s.Secret == "", s.Region == "":
		return errors.New("an S3 repository needs a bucket, an endpoint, a region and credentials")
	case s.Port <= 0 || s.Port > 65535:
		return errors.New("an S3 repository needs a port")
	case !strings.HasPrefix(s.Path, "/"):
		return errors.New("an S3 repository path starts with /")
	case s.URIStyle != "host" && s.URIStyle != "path":
		return errors.New("an S3 URI style is host or path")
	}
	return nil
}

func (s S3) render(line func(k, v string)) {
	p := "repo" + strconv.Itoa(RepoS3) + "-"
	line(p+"type", "s3")
	line(p+"path", s.Path)
	line(p+"s3-bucket", s.Bucket)
	line(p+"s3-endpoint", s.Host)
	line(p+"storage-port", strconv.Itoa(s.Port))
	line(p+"s3-region", s.Region)
	line(p+"s3-uri-style", s.URIStyle)
	line(p+"s3-key", s.Key)
	line(p+"s3-key-secret", s.Secret)
	if s.CAFile != "" {
		line(p+"storage-ca-file", s.CAFile)
	}
}

var s3CodeRE = regexp.MustCompile(`<Code>([A-Za-z]+)</Code>`)

// S3Reason says in a few words why a command failed against an S3
// repository, from pgBackRest's output (the HTTP status, S3's error
// code, or the connection error). Request headers and signatures in the
// output are not kept.
func S3Reason(e *Error) string {
	code := ""
	if m := s3CodeRE.FindStringSubmatch(e.Output); m != nil {
		code = m[1]
	}
	switch {
	case code == "NoSuchBucket":
		return "the bucket does not exist"
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" || strings.Contains(e.Message, "403"):
		if code == "" {
			code = "403 Forbidden"
		}
		return "access denied, check access-key and secret-key (" + code + ")"
	case strings.Contains(e.Message, "unable to connect"), strings.Contains(e.Message, "timeout"), strings.Contains(e.Message, "unable to resolve"):
		return "the endpoint cannot be reached: " + e.Message
	case strings.Contains(strings.ToLower(e.Message), "tls") || strings.Contains(strings.ToLower(e.Message), "certificate"):
		return "TLS to the endpoint failed (check tls-ca-chain): " + e.Message
	case code != "":
		return e.Message + " (" + code + ")"
	}
	return e.Message
}

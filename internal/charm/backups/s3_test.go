package backups

import (
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgbackrest"
)

func TestParseS3(t *testing.T) {
	full := map[string]string{"bucket": "b", "access-key": "AK", "secret-key": "SK", "endpoint": "https://10.1.2.3:7070", "path": "pg/"}
	s3, problem := ParseS3(full)
	if problem != "" {
		t.Fatal(problem)
	}
	want := pgbackrest.S3{Bucket: "b", Key: "AK", Secret: "SK", Host: "10.1.2.3", Port: 7070, Region: "us-east-1", Path: "/pg", URIStyle: "path"}
	if s3 != want {
		t.Errorf("ParseS3 = %+v, want %+v", s3, want)
	}
	for _, tc := range []struct {
		change map[string]string
		want   string
	}{
		{map[string]string{"secret-key": "", "bucket": ""}, "missing bucket, secret-key"},
		{map[string]string{"endpoint": "http://h"}, "only HTTPS"},
		{map[string]string{"endpoint": "https://h:99999"}, "bad port"},
		{map[string]string{"s3-uri-style": "virtual"}, "invalid s3-uri-style"},
		{map[string]string{"tls-ca-chain": `["not a pem"]`}, "invalid tls-ca-chain"},
		{map[string]string{"delete-older-than-days": "0"}, "invalid delete-older-than-days"},
		{map[string]string{"secret-key": "a\nrepo1-path=/x"}, "line break"},
	} {
		d := map[string]string{}
		for k, v := range full {
			d[k] = v
		}
		for k, v := range tc.change {
			d[k] = v
		}
		if _, problem := ParseS3(d); !strings.Contains(problem, tc.want) {
			t.Errorf("ParseS3 with %v: problem %q, want it to say %q", tc.change, problem, tc.want)
		}
	}
	d := map[string]string{"bucket": "b", "access-key": "AK", "secret-key": "SK", "endpoint": "s3.example.com"}
	if s3, _ := ParseS3(d); s3.URIStyle != "host" || s3.Port != 443 || s3.Path != "/" {
		t.Errorf("defaults: %+v", s3)
	}
}

func TestDecideRepositoryS3(t *testing.T) {
	f := Facts{Stanza: "pg-1", S3Relation: "s3-parameters:7", S3Data: map[string]string{"bucket": "b"}}
	repo, st := DecideRepository(f)
	if repo.Configured() || st.Level != "blocked" || !strings.Contains(st.Message, "s3-parameters relation s3-parameters:7: missing access-key") {
		t.Errorf("incomplete S3 data: %+v %+v", repo, st)
	}
	f.S3Data = map[string]string{"bucket": "b", "access-key": "AK", "secret-key": "SK"}
	repo, st = DecideRepository(f)
	if !repo.Configured() || st.Level != "" {
		t.Errorf("S3 only: %+v %+v", repo, st)
	}
	r1, _ := ChooseRepo(repo, "")
	if r1 != pgbackrest.RepoS3 {
		t.Errorf("default repo with S3 only: %d", r1)
	}
	if _, err := ChooseRepo(repo, "posix"); err == nil {
		t.Error("repo=posix without backup_path must be refused")
	}
	m1 := stanzaMark(repo)
	f.S3Data["secret-key"] = "SK2"
	repo2, _ := DecideRepository(f)
	if stanzaMark(repo2) == m1 {
		t.Error("new credentials must change the stanza mark")
	}
	if strings.Contains(m1, "SK") {
		t.Errorf("the mark holds the secret: %s", m1)
	}
	f.StanzaFailed = FailedMark(repo2, "s3-parameters: access denied")
	if retry, reason := f.RetryStanza(repo2, false); retry || reason != "s3-parameters: access denied" {
		t.Errorf("same repositories, not update-status: retry %v %q", retry, reason)
	}
	if retry, _ := f.RetryStanza(repo2, true); !retry {
		t.Error("update-status retries")
	}
	if retry, _ := f.RetryStanza(repo, false); !retry {
		t.Error("changed repositories retry at once")
	}
}

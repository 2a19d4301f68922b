package pgbackrest

import (
	"strings"
	"testing"
)

func TestRenderConfig(t *testing.T) {
	c := Config{Unit: "pg/0", Stanza: "pg-1234abcd", RepoPath: "/srv/backups", PGData: "/data/pgdata", SocketDir: "/run/pg",
		Port: 5432, User: "operator", LockPath: "/run/pg/pgbackrest", LogPath: "/var/log/pg/pgbackrest", SpoolPath: "/var/lib/pg/spool"}
	got, err := RenderConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Rendered by the postgresql charm for pg/0; changes are overwritten.
[global]
lock-path=/run/pg/pgbackrest
log-path=/var/log/pg/pgbackrest
spool-path=/var/lib/pg/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4
process-max=2
repo1-type=posix
repo1-path=/srv/backups

[pg-1234abcd]
pg1-path=/data/pgdata
pg1-socket-path=/run/pg
pg1-port=5432
pg1-user=operator
`
	if got != want {
		t.Errorf("RenderConfig:\n%s\nwant:\n%s", got, want)
	}
	bad := c
	bad.RepoPath = "/srv/x\n[other]"
	if _, err := RenderConfig(bad); err == nil {
		t.Error("a line break in a value must be refused")
	}
	bad = c
	bad.Stanza = "Other Stanza"
	if _, err := RenderConfig(bad); err == nil || !strings.Contains(err.Error(), "stanza") {
		t.Errorf("an invalid stanza must be refused: %v", err)
	}
}

func TestParseInfo(t *testing.T) {
	data := `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000005","min":"000000010000000000000001"}],
"backup":[{"archive":{"start":"000000010000000000000003","stop":"000000010000000000000003"},"database":{"id":1,"repo-key":1},"error":false,
"info":{"delta":23144415,"repository":{"delta":4549418,"size":4549418},"size":23144415},"label":"20261207-205118F","lsn":{"start":"0/3000028","stop":"0/3000100"},
"timestamp":{"start":1796676678,"stop":1796676682},"type":"full"}],
"cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7716667819359894273,"version":"15"}],"name":"pg-1","repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],
"status":{"code":0,"lock":{"backup":{"held":true}},"message":"ok"}}]`
	sts, err := ParseInfo([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 {
		t.Fatalf("%d stanzas", len(sts))
	}
	s := sts[0]
	b, ok := s.Latest()
	switch {
	case s.Name != "pg-1" || !s.Locked || s.DBID != 1 || s.SystemID != 7716667819359894273:
		t.Errorf("stanza %+v", s)
	case !ok || b.Label != "20261207-205118F" || b.StopLSN != 0x3000100 || b.Timeline() != 1 || b.RepoSize != 4549418 || b.Stop.Unix() != 1796676682:
		t.Errorf("backup %+v", b)
	case len(s.Archive) != 1 || s.Archive[0].Max != "000000010000000000000005":
		t.Errorf("archive %+v", s.Archive)
	}
}

func TestRenderConfigS3(t *testing.T) {
	c := Config{Unit: "pg/0", Stanza: "pg-1234abcd", PGData: "/data/pgdata", SocketDir: "/run/pg",
		Port: 5432, User: "operator", LockPath: "/run/pg/pgbackrest", LogPath: "/var/log/pg/pgbackrest", SpoolPath: "/var/lib/pg/spool",
		IOTimeout: 5, RetentionFull: 2,
		S3: S3{Bucket: "b", Host: "10.0.0.9", Port: 7070, Region: "us-east-1", Path: "/pg", URIStyle: "path",
			Key: "AK", Secret: "SK", CAFile: "/conf/ca.pem", RetentionDays: 7}}
	got, err := RenderConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"io-timeout=5\n", "repo2-type=s3\n", "repo2-path=/pg\n", "repo2-s3-bucket=b\n", "repo2-s3-endpoint=10.0.0.9\n",
		"repo2-storage-port=7070\n", "repo2-s3-uri-style=path\n", "repo2-s3-key=AK\n", "repo2-s3-key-secret=SK\n",
		"repo2-storage-ca-file=/conf/ca.pem\n", "repo2-retention-full-type=time\n", "repo2-retention-full=7\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("RenderConfig lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "repo1-") {
		t.Errorf("no backup_path, yet repo1 is rendered:\n%s", got)
	}
	bad := c
	bad.S3.Secret = "x\nrepo2-path=/elsewhere"
	if _, err := RenderConfig(bad); err == nil {
		t.Error("a line break in the secret key must be refused")
	}
	c.RepoPath = "/srv/backups"
	got, _ = RenderConfig(c)
	if !strings.Contains(got, "repo1-path=/srv/backups\nrepo1-retention-full=2\n") {
		t.Errorf("posix beside S3:\n%s", got)
	}
}

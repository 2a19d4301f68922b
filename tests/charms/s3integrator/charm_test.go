package main

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

func TestPublish(t *testing.T) {
	pemA := "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
	pemB := "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----"
	cfg := map[string]any{"endpoint": "https://10.0.0.5:7070", "bucket": "b", "s3-uri-style": "path",
		"tls-ca-chain": base64.StdEncoding.EncodeToString([]byte(pemA + "\n" + pemB + "\n")), "experimental-delete-older-than-days": 7}
	out, err := Publish(cfg, map[string]string{"access-key": "AK", "secret-key": "SK"})
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	if err := json.Unmarshal([]byte(out["tls-ca-chain"]), &chain); err != nil || len(chain) != 2 || chain[0] != pemA || chain[1] != pemB {
		t.Errorf("tls-ca-chain %q: %v", out["tls-ca-chain"], err)
	}
	if out["endpoint"] != "https://10.0.0.5:7070" || out["bucket"] != "b" || out["delete-older-than-days"] != "7" ||
		out["access-key"] != "AK" || out["secret-key"] != "SK" || out["region"] != "" {
		t.Errorf("published %v", out)
	}
	if _, err := Publish(map[string]any{"tls-ca-chain": "not base64!"}, nil); err == nil {
		t.Error("a tls-ca-chain that is not base64 must be refused")
	}
}

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

const (
	providerEndpoint = "s3-credentials"
	peerEndpoint     = "s3-integrator-peers"
)

// stringOptions are the config keys published as they are.
var stringOptions = []string{"endpoint", "bucket", "region", "path", "s3-uri-style", "storage-class"}

// mandatory are the keys without which the real charm says Blocked.
var mandatory = []string{"access-key", "secret-key"}

var pemRE = regexp.MustCompile(`(?s)-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----`)

// Publish is the provider's application databag from the config and
// the credentials: tls-ca-chain base64-decoded and split into a JSON list
// of PEM certificates, experimental-delete-older-than-days as
// delete-older-than-days. Every key the protocol knows is present, "" for
// unset (which deletes it from the databag). It is pure.
func Publish(cfg map[string]any, creds map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range stringOptions {
		out[k], _ = cfg[k].(string)
	}
	out["tls-ca-chain"] = ""
	if v, _ := cfg["tls-ca-chain"].(string); v != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("tls-ca-chain is not base64: %v", err)
		}
		certs := pemRE.FindAllString(string(raw), -1)
		if len(certs) == 0 {
			return nil, fmt.Errorf("tls-ca-chain: no certificate found in chain")
		}
		j, _ := json.Marshal(certs)
		out["tls-ca-chain"] = string(j)
	}
	out["delete-older-than-days"] = ""
	switch v := cfg["experimental-delete-older-than-days"].(type) {
	case int:
		if v > 0 {
			out["delete-older-than-days"] = strconv.Itoa(v)
		}
	case float64:
		if v > 0 {
			out["delete-older-than-days"] = strconv.Itoa(int(v))
		}
	}
	for _, k := range mandatory {
		out[k] = creds[k]
	}
	return out, nil
}

func newModel(h *juju.Hook) *model.Model {
	return model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
}

// credentials are the synced credentials, kept in the peer application
// databag as the real charm keeps them.
func credentials(ctx context.Context, m *model.Model) (map[string]string, *model.Databag, error) {
	peers, err := m.PeerRelation(ctx, peerEndpoint)
	if err != nil || peers == nil {
		return map[string]string{}, nil, err
	}
	bag, err := peers.LocalAppData(ctx)
	if err != nil {
		return nil, nil, err
	}
	return bag.Map(), bag, nil
}

// reconcile publishes on the leader into every s3-credentials relation.
func reconcile(ctx context.Context, h *juju.Hook) error {
	m := newModel(h)
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		h.Status.Add(juju.Active(""))
		return nil
	}
	creds, _, err := credentials(ctx, m)
	if err != nil {
		return err
	}
	return publish(ctx, h, m, creds)
}

func publish(ctx context.Context, h *juju.Hook, m *model.Model, creds map[string]string) error {
	cfg, err := m.Config(ctx)
	if err != nil {
		return err
	}
	data, err := Publish(cfg.Values(), creds)
	if err != nil {
		h.Status.Add(juju.Blocked(err.Error()))
		return nil
	}
	rels, err := m.Relations(ctx, providerEndpoint)
	if err != nil {
		return err
	}
	for _, r := range rels {
		bag, err := r.LocalAppData(ctx)
		if err != nil {
			return err
		}
		changes := map[string]string{}
		for k, v := range data {
			if bag.Get(k) != v {
				changes[k] = v
			}
		}
		if len(changes) > 0 {
			if err := bag.Update(ctx, changes); err != nil {
				return err
			}
		}
	}
	var missing []string
	for _, k := range append([]string{"bucket"}, mandatory...) {
		if data[k] == "" {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		h.Status.Add(juju.Blocked("Missing parameters: " + strings.Join(missing, ", ")))
	} else {
		h.Status.Add(juju.Active(""))
	}
	return nil
}

// syncCredentials is the sync-s3-credentials action, on the leader.
func syncCredentials(ctx context.Context, h *juju.Hook) error {
	m := newModel(h)
	leader, err := m.IsLeader(ctx)
	if err != nil {
		return err
	}
	if !leader {
		return h.Backend.ActionFail(ctx, "The action can be run only on leader unit.")
	}
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	ak, _ := params["access-key"].(string)
	sk, _ := params["secret-key"].(string)
	if ak == "" || sk == "" {
		return h.Backend.ActionFail(ctx, "access-key and secret-key are required")
	}
	_, bag, err := credentials(ctx, m)
	if err != nil {
		return err
	}
	if bag == nil {
		return h.Backend.ActionFail(ctx, "no peer relation yet")
	}
	creds := map[string]string{"access-key": ak, "secret-key": sk}
	if err := bag.Update(ctx, creds); err != nil {
		return err
	}
	if err := publish(ctx, h, m, creds); err != nil {
		return err
	}
	return h.Backend.ActionSet(ctx, map[string]string{"result": "credentials synced"})
}

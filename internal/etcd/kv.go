package etcd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// prefixEnd is the end of the key range holding every key that starts
// with prefix (etcd's range_end convention: the prefix with its last byte
// incremented, bytes 0xff dropped).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// DeletePrefix deletes every key that starts with prefix and returns how
// many there were. An empty prefix is refused: it would delete everything.
func (c *Client) DeletePrefix(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, errors.New("etcd: refusing to delete an empty prefix")
	}
	req := map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString([]byte(prefixEnd(prefix))),
	}
	var out struct {
		Deleted string `json:"deleted"`
	}
	if err := c.call(ctx, "/v3/kv/deleterange", req, &out); err != nil {
		return 0, err
	}
	if out.Deleted == "" {
		return 0, nil
	}
	return strconv.ParseInt(out.Deleted, 10, 64)
}

// KeyValue is a key's value and the revision that last changed it.
type KeyValue struct {
	Key         string
	Value       []byte
	ModRevision int64
}

type jsonKV struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	ModRevision string `json:"mod_revision"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Get reads one key; found is false when it does not exist.
func (c *Client) Get(ctx context.Context, key string) (kv KeyValue, found bool, err error) {
	var out struct {
		KVs []jsonKV `json:"kvs"`
	}
	if err := c.call(ctx, "/v3/kv/range", map[string]string{"key": b64(key)}, &out); err != nil {
		return KeyValue{}, false, err
	}
	if len(out.KVs) == 0 {
		return KeyValue{}, false, nil
	}
	return decodeKV(out.KVs[0])
}

func decodeKV(j jsonKV) (KeyValue, bool, error) {
	key, err := base64.StdEncoding.DecodeString(j.Key)
	if err != nil {
		return KeyValue{}, false, fmt.Errorf("etcd: decoding a key: %w", err)
	}
	value, err := base64.StdEncoding.DecodeString(j.Value)
	if err != nil {
		return KeyValue{}, false, fmt.Errorf("etcd: decoding %s: %w", key, err)
	}
	kv := KeyValue{Key: string(key), Value: value}
	if j.ModRevision != "" {
		if kv.ModRevision, err = strconv.ParseInt(j.ModRevision, 10, 64); err != nil {
			return KeyValue{}, false, fmt.Errorf("etcd: %s's revision %q: %w", key, j.ModRevision, err)
		}
	}
	return kv, true, nil
}

// Unchanged is a condition of PutIf: Key's value is Value and it was last
// changed at ModRevision (what Get returned).
type Unchanged KeyValue

// PutIf sets key to value in one transaction if every condition still
// holds; put is false (and nothing changed) when one does not.
func (c *Client) PutIf(ctx context.Context, conds []Unchanged, key string, value []byte) (put bool, err error) {
	compare := make([]map[string]string, 0, 2*len(conds))
	for _, u := range conds {
		compare = append(compare,
			map[string]string{"key": b64(u.Key), "result": "EQUAL", "target": "VALUE", "value": base64.StdEncoding.EncodeToString(u.Value)},
			map[string]string{"key": b64(u.Key), "result": "EQUAL", "target": "MOD", "mod_revision": strconv.FormatInt(u.ModRevision, 10)})
	}
	req := map[string]any{
		"compare": compare,
		"success": []map[string]any{{"request_put": map[string]string{"key": b64(key), "value": base64.StdEncoding.EncodeToString(value)}}},
	}
	var out struct {
		Succeeded bool `json:"succeeded"` // the gateway leaves false out
	}
	if err := c.call(ctx, "/v3/kv/txn", req, &out); err != nil {
		return false, err
	}
	return out.Succeeded, nil
}

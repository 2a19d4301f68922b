package etcd

import (
	"context"
	"encoding/base64"
	"errors"
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

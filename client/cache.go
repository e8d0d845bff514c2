package client

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// cachePath is where a service's last answer is kept:
// <CacheDir>/<namespace>/<escaped cache key>.json.
func (c *Client) cachePath(key string) string {
	ns := c.cfg.Namespace
	if ns == "" {
		ns = "public"
	}
	return filepath.Join(c.cfg.CacheDir, url.PathEscape(ns), url.PathEscape(key)+".json")
}

// writeCache stores snap's answer, replacing the file atomically so that a
// reader never sees half of it. Failures are logged: the cache is a help,
// not a duty.
func (c *Client) writeCache(snap *snapshot) {
	if c.cfg.CacheDir == "" || len(snap.raw) == 0 {
		return
	}
	path := c.cachePath(snap.key)
	if err := writeFileAtomic(path, snap.raw); err != nil {
		c.log.Warn("write disk cache", "service", snap.key, "err", err)
	}
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// readCache returns the cached answer for key.
func (c *Client) readCache(key string) (*snapshot, error) {
	if c.cfg.CacheDir == "" {
		return nil, errors.New("client: no cache directory")
	}
	b, err := os.ReadFile(c.cachePath(key))
	if err != nil {
		return nil, fmt.Errorf("read disk cache: %w", err)
	}
	snap, err := decodeList(b)
	if err != nil {
		return nil, fmt.Errorf("read disk cache: %w", err)
	}
	if snap.key != key {
		return nil, fmt.Errorf("read disk cache: file of %s holds %s", key, snap.key)
	}
	return snap, nil
}

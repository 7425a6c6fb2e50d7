package jsonstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

type doc struct {
	Items []string `json:"items"`
}

func TestUpdateRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "store.json")
	var d doc
	if err := Read(path, &d); err != nil || len(d.Items) != 0 {
		t.Fatalf("missing file: %v %v", d, err)
	}
	for i := range 3 {
		var d doc
		if err := Update(path, &d, func() error { d.Items = append(d.Items, fmt.Sprint(i)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := Read(path, &d); err != nil || len(d.Items) != 3 {
		t.Fatalf("read back %v %v", d, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// A failing fn writes nothing.
	boom := errors.New("boom")
	var d2 doc
	if err := Update(path, &d2, func() error { d2.Items = nil; return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var d3 doc
	Read(path, &d3)
	if len(d3.Items) != 3 {
		t.Errorf("failed update changed the file: %v", d3)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "store.json" && e.Name() != "store.json.lock" {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestCorrupt(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `{"items": ["a", "b"`,
		"empty":     ``,
		"garbage":   "\x00\x01binary",
		"unknown":   `{"other": 1}`,
		"trailing":  `{"items": []} {}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		var d doc
		err := Read(path, &d)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v", name, err)
		}
		if err := Update(path, &d, func() error { return nil }); !errors.As(err, &ce) {
			t.Errorf("%s: Update err = %v", name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("%s: corrupt file was replaced", name)
		}
	}
}

// TestConcurrent runs updates from many goroutines, each with its own
// lock file descriptor, as separate processes would: none is lost.
func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.json")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var d doc
			if err := Update(path, &d, func() error { d.Items = append(d.Items, fmt.Sprint(i)); return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var d doc
	if err := Read(path, &d); err != nil || len(d.Items) != 20 {
		t.Fatalf("got %d items, %v", len(d.Items), err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"items":["a"]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "s.json")
		os.WriteFile(path, b, 0o600)
		var d doc
		err := Read(path, &d)
		var ce *CorruptError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("unexpected error type %T", err)
		}
	})
}

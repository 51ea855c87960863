package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRotationBoundsFilesAndSizes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	os.WriteFile(path+".9", []byte("left by an earlier run\n"), 0o600)
	w, err := Open(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				fmt.Fprintf(w, "writer %d line %04d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := Files(path)
	want := []string{path + ".2", path + ".1", path}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", files, want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Fatalf("%d files in the directory, want 3", len(ents))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 || len(b) == 0 {
			t.Errorf("%s has %d bytes, want 1..1000", f, len(b))
		}
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if line != "" && (!strings.HasPrefix(line, "writer ") || !strings.HasSuffix(line, "\n")) {
				t.Errorf("%s: a line was split: %q", f, line)
			}
		}
	}
}

func TestAppendsAndSplitsHugeWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(path, []byte("0123456789"), 0o600)
	w, err := Open(path, 16, 4)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	huge := bytes.Repeat([]byte("z"), 40)
	if n, err := w.Write(huge); n != 40 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	w.Close()
	var all []byte
	for _, f := range Files(path) {
		b, _ := os.ReadFile(f)
		if len(b) > 16 {
			t.Errorf("%s: %d bytes", f, len(b))
		}
		all = append(all, b...)
	}
	if want := "0123456789abc" + string(huge); string(all) != want {
		t.Fatalf("content %q, want %q", all, want)
	}
}

func TestOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.log")
	w, err := Open(path, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("aaaaaaaa\n"))
	w.Write([]byte("bbbbbbbb\n"))
	w.Close()
	if files := Files(path); len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(path); string(b) != "bbbbbbbb\n" {
		t.Fatalf("content %q", b)
	}
	if _, err := Open(path, 0, 1); err == nil {
		t.Fatal("Open with size 0 succeeded")
	}
}

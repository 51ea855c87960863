package cluster_test

// Unmodified Node.js apps as cluster workers: the real node binary, Node's
// own cluster worker code, herd's Go primary.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/proc"
)

// The apps. Each answers with its pid, so a test can tell the workers
// apart; none knows it runs in a cluster.
const (
	nodeHTTP = `require('http').createServer((req, res) => {
  const d = Number(new URL(req.url, 'http://x').searchParams.get('d') || 0);
  setTimeout(() => res.end(String(process.pid)), d);
}).listen(process.env.PORT || 0);
`
	nodeHTTPS = `const fs = require('fs');
require('https').createServer({key: fs.readFileSync(process.env.KEY), cert: fs.readFileSync(process.env.CERT)},
  (req, res) => res.end(String(process.pid))).listen(process.env.PORT || 0);
`
	nodeEcho = `require('net').createServer((s) => {
  s.write(process.pid + '\n');
  s.pipe(s);
}).listen(process.env.PORT || 0);
`
	nodeUDP = `const s = require('dgram').createSocket('udp4');
s.on('message', (b, r) => s.send(process.pid + ' ' + b, r.port, r.address));
s.bind(Number(process.env.PORT || 0), '127.0.0.1');
`
	nodeTwoPorts = `const http = require('http');
for (const name of ['a', 'b']) http.createServer((req, res) => res.end(name + ' ' + process.pid)).listen(0);
`
	nodeMaxConn = `const srv = require('http').createServer((req, res) => res.end(String(process.pid)));
srv.maxConnections = Number(process.env.MAXCONN);
srv.listen(0);
`
)

// nodeBin returns node's path, or skips the test.
func nodeBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	return p
}

// writeApp writes a Node app into the test's temporary directory.
func writeApp(t *testing.T, js string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.js")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nodeCommand runs "node app" as the worker, with env added.
func nodeCommand(node, app string, env ...string) func(int) *proc.Cmd {
	return func(int) *proc.Cmd {
		c := proc.Command(node, app)
		c.Env = append(os.Environ(), env...)
		c.Stderr = os.Stderr
		return c
	}
}

// startNode runs a primary of Node workers running js, as start does for
// Go helpers.
func startNode(t *testing.T, cfg cluster.Config, js string, env ...string) *harness {
	t.Helper()
	h := &harness{t: t, errc: make(chan error, 1), ready: make(chan struct{}, 64)}
	cfg.NoSignals = true
	if cfg.KillTimeout == 0 {
		cfg.KillTimeout = 30 * time.Second // a loaded machine is slow, not hung
	}
	cfg.Command = nodeCommand(nodeBin(t), writeApp(t, js), env...)
	cfg.OnEvent = h.record
	h.p = cluster.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- h.p.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// ports returns the distinct ports workers reported listening on, in
// order.
func (h *harness) ports() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, e := range h.events {
		if e.Type != cluster.EventListening {
			continue
		}
		_, port, err := net.SplitHostPort(e.Addr)
		if err == nil && !seen[port] {
			seen[port] = true
			out = append(out, port)
		}
	}
	return out
}

// local is 127.0.0.1 on the first port the workers listen on.
func (h *harness) local() string {
	h.t.Helper()
	ps := h.ports()
	if len(ps) == 0 {
		h.t.Fatal("no listening event")
	}
	return "127.0.0.1:" + ps[0]
}

// pids returns the pids of the live workers.
func (h *harness) pids() map[string]bool {
	out := map[string]bool{}
	for _, w := range h.workers() {
		out[strconv.Itoa(w.Pid)] = true
	}
	return out
}

// spread calls ask (which returns the answering worker's pid) until every
// worker answered, or fails after 400 calls.
func spread(t *testing.T, h *harness, ask func() string) map[string]int {
	t.Helper()
	want := h.pids()
	seen := map[string]int{}
	for i := 0; i < 400 && len(seen) < len(want); i++ {
		pid := ask()
		if !want[pid] {
			t.Fatalf("answer %q is not from a worker %v", pid, want)
		}
		seen[pid]++
	}
	if len(seen) != len(want) {
		t.Fatalf("answers came from %v, workers are %v", seen, want)
	}
	return seen
}

var nodePolicies = []cluster.Policy{cluster.RoundRobin, cluster.Shared}

func TestNodeHTTP(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range []cluster.Policy{cluster.RoundRobin, cluster.Shared, cluster.ReusePort, cluster.LeastConn} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeHTTP)
			h.waitReady(2)
			url := "http://" + h.local() + "/"
			t.Logf("spread %v", spread(t, h, func() string { return get(t, url) }))
			stopClean(t, h)
		})
	}
}

// stopClean stops the cluster and checks that every worker exited 0 by
// itself after the disconnect.
func stopClean(t *testing.T, h *harness) {
	t.Helper()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.Type == cluster.EventExit && (e.Code != 0 || e.Signal != 0 || !e.Expected) {
			t.Errorf("worker exit: %s", e)
		}
	}
}

func TestNodeHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			testutil.CheckFDs(t)
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeHTTPS, "CERT="+certFile, "KEY="+keyFile)
			h.waitReady(2)
			url := "https://" + h.local() + "/"
			t.Logf("spread %v", spread(t, h, func() string { return getWith(t, client, url) }))
			stopClean(t, h)
		})
	}
}

func getWith(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNodeNetEcho(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeEcho)
			h.waitReady(2)
			addr := h.local()
			t.Logf("spread %v", spread(t, h, func() string { return echo(t, addr) }))
			stopClean(t, h)
		})
	}
}

// echo reads the worker's pid line, checks that a line comes back, and
// returns the pid.
func echo(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	pid, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "ping\n")
	if back, err := r.ReadString('\n'); err != nil || back != "ping\n" {
		t.Fatalf("echo: %q, %v", back, err)
	}
	return strings.TrimSpace(pid)
}

func TestNodeUDP(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeUDP)
			h.waitReady(2)
			t.Logf("spread %v", udpSpread(t, h, h.local()))
			stopClean(t, h)
		})
	}
}

// udpSpread sends bursts of datagrams until every worker answered some.
// All workers read one shared socket and the kernel wakes them all: while
// one is busy with a burst, the others take their share.
func udpSpread(t *testing.T, h *harness, addr string) map[string]int {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := h.pids()
	seen := map[string]int{}
	buf := make([]byte, 256)
	for round := 0; round < 50 && len(seen) < len(want); round++ {
		for i := 0; i < 64; i++ {
			fmt.Fprintf(c, "hi%d", i)
		}
		for {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			pid, msg, _ := strings.Cut(string(buf[:n]), " ")
			if !want[pid] || !strings.HasPrefix(msg, "hi") {
				t.Fatalf("udp answer %q, workers %v", buf[:n], want)
			}
			seen[pid]++
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("answers came from %v, workers are %v", seen, want)
	}
	return seen
}

func TestNodeTwoPorts(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeTwoPorts)
			h.waitReady(2)
			testutil.Eventually(t, "two ports", func() bool { return len(h.ports()) == 2 })
			names := map[string]bool{}
			for _, port := range h.ports() {
				url := "http://127.0.0.1:" + port + "/"
				seen := spread(t, h, func() string {
					name, pid, _ := strings.Cut(get(t, url), " ")
					names[name] = true
					return pid
				})
				t.Logf("port %s: %v", port, seen)
			}
			if len(names) != 2 {
				t.Fatalf("servers answering: %v", names)
			}
			stopClean(t, h)
		})
	}
}

// test-cluster-http-pipe: an http server on a Unix socket path.
func TestNodeUnixSocket(t *testing.T) {
	testutil.CheckFDs(t) // once for the subtests, which run in parallel
	for _, pol := range nodePolicies {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			sock := filepath.Join(t.TempDir(), "app.sock")
			h := startNode(t, cluster.Config{Workers: 2, Policy: pol}, nodeHTTP, "PORT="+sock)
			h.waitReady(2)
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "unix", sock)
				}}}
			defer client.CloseIdleConnections()
			t.Logf("spread %v", spread(t, h, func() string { return getWith(t, client, "http://app/") }))
			stopClean(t, h)
			if _, err := os.Stat(sock); err == nil {
				t.Error("the socket file outlived the cluster")
			}
		})
	}
}

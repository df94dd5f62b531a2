// Package pgtest gives tests a real PostgreSQL: a fresh schema in the
// server scripts/postgres starts (OIDCFED_TEST_POSTGRES_DSN), or a private
// server of their own for tests that stop and restart it. Without a DSN the
// tests that need one are skipped; ./scripts/test always provides one.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable scripts/postgres sets to its server's DSN.
const EnvDSN = "OIDCFED_TEST_POSTGRES_DSN"

// DSN is the shared test server's DSN; the test is skipped without one.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skipf("no PostgreSQL: set %s (./scripts/test starts one with scripts/postgres)", EnvDSN)
	}
	return dsn
}

// NewSchema creates an empty schema in the shared server and returns a DSN
// whose search_path is that schema, so the store opened with it starts
// empty and sees nothing of other tests. The schema is dropped when the
// test ends (after the cleanups registered later, such as closing a store
// opened on it).
func NewSchema(t testing.TB) string {
	t.Helper()
	return newSchema(t, DSN(t))
}

func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	exec := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("pgtest: connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("pgtest: %s: %v", sql, err)
		}
	}
	exec("CREATE SCHEMA " + schema)
	t.Cleanup(func() { exec("DROP SCHEMA " + schema + " CASCADE") })
	return WithSearchPath(t, dsn, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Server is a private PostgreSQL server a test may stop and start.
type Server struct {
	bin, dir string
	runAs    []string
	port     int
}

// StartServer initialises and starts a private server, as scripts/postgres
// does (trust authentication on loopback, a free port), and removes it when
// the test ends. The test is skipped without PostgreSQL's binaries.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("OIDCFED_TEST_POSTGRES_BIN")
	if bin == "" {
		bin = findBin()
	}
	if bin == "" {
		t.Skip("no PostgreSQL binaries (initdb, pg_ctl): install the postgresql package")
	}
	s := &Server{bin: bin}
	owner := os.Getenv("OIDCFED_TEST_POSTGRES_USER")
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		if owner == "" || owner == "root" {
			owner = "postgres"
			if _, err := user.Lookup(owner); err != nil {
				owner = "nobody"
			}
		}
		s.runAs = []string{"runuser", "-u", owner, "--"}
	}
	dir, err := os.MkdirTemp("", "oidcfed-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if s.runAs != nil {
		u, err := user.Lookup(owner)
		if err != nil {
			t.Fatalf("pgtest: user %s: %v", owner, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.dir = dir
	s.run(t, "initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.Start(t)
	t.Cleanup(func() { s.ctl(t, "stop", "-m", "immediate") })
	return s
}

func findBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(r)
		}
	}
	return ""
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	argv := append(append(slices.Clone(s.runAs), filepath.Join(s.bin, prog)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func (s *Server) ctl(t testing.TB, args ...string) {
	t.Helper()
	s.run(t, "pg_ctl", append([]string{"-D", s.data(), "-w", "-t", "60"}, args...)...)
}

// Start starts the server (again), on the same port and data.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c max_connections=100 -c log_min_messages=warning", s.port, s.dir)
	s.ctl(t, "-l", filepath.Join(s.dir, "server.log"), "-o", opts, "start")
}

// Stop stops the server, ending every connection (pg_ctl stop -m fast).
func (s *Server) Stop(t testing.TB) { s.ctl(t, "stop", "-m", "fast") }

// DSN is the server's own DSN (database postgres, schema public).
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// NewSchema is pgtest.NewSchema on this server.
func (s *Server) NewSchema(t testing.TB) string { return newSchema(t, s.DSN()) }

package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// errNotInstalled means no PostgreSQL binaries were found; tests skip on it outside CI.
var errNotInstalled = errors.New("no PostgreSQL installed (looked for initdb and postgres in /usr/lib/postgresql/*/bin and PATH); install postgresql-15, or set ALLOT_TEST_DB_URL to a running server")

// binaries are the two programs a Server runs.
type binaries struct {
	initdb   string
	postgres string
}

// findBinaries looks in /usr/lib/postgresql/<version>/bin, preferring 15, then the highest
// version, then PATH.
func findBinaries() (binaries, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionRank(dirs[i]) > versionRank(dirs[j]) })
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	i, err1 := exec.LookPath("initdb")
	p, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb: i, postgres: p}, nil
	}
	return binaries{}, errNotInstalled
}

// versionRank orders /usr/lib/postgresql/N/bin: 15 first, then by N descending.
func versionRank(dir string) int {
	n, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	switch {
	case err != nil:
		return -1
	case n == 15:
		return 1 << 20
	default:
		return n
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// credential returns the identity initdb and postgres run as: nil (ourselves) unless we are
// root, which both refuse; then the postgres system user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, but there is no system user \"postgres\" to run it as (%v); create one (useradd --system postgres) or run the tests as another user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

package baseline

import (
	"testing"

	"github.com/allot/allot/persistence/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

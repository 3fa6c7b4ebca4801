package pools

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolMismatch: a Go side and a Python package of different bridge protocols fail at the
// start with an error that says which versions met and what to do, whichever side is older; a
// package that cannot be imported is named as such. Before the check an older package failed with
// "unrecognized arguments: --calls-fd" and nothing said why.
func TestProtocolMismatch(t *testing.T) {
	releases, err := filepath.Abs(filepath.Join("testdata", "releases"))
	require.NoError(t, err)
	tests := []struct {
		name       string
		pythonPath string // a release of the package to run instead of the installed one ("": installed)
		goProtocol int    // the protocol this Go side pretends to speak (0: its own)
		want       *ProtocolMismatchError
		wantText   []string
	}{
		{
			name: "a newer Go worker, the installed package", goProtocol: protocolVersion + 1,
			want: &ProtocolMismatchError{PackageVersion: "0.1.0", PythonProtocol: protocolVersion, GoProtocol: protocolVersion + 1},
			wantText: []string{fmt.Sprintf("the snakepool Go worker speaks bridge protocol %d, the Python package at ", protocolVersion+1),
				fmt.Sprintf(" (snakepool 0.1.0) speaks %d: upgrade the Python package in that interpreter to this worker's release", protocolVersion)},
		},
		{
			name: "an older Python package, from before the check", pythonPath: "protocol2",
			want: &ProtocolMismatchError{PackageVersion: "0.0.9", PythonProtocol: 2, GoProtocol: protocolVersion},
			wantText: []string{fmt.Sprintf("the snakepool Go worker speaks bridge protocol %d, the Python package at ", protocolVersion),
				" (snakepool 0.0.9) speaks 2: upgrade"},
		},
		{
			name: "a newer Python package", pythonPath: "protocol99",
			want:     &ProtocolMismatchError{PackageVersion: "9.9.0", PythonProtocol: 99, GoProtocol: protocolVersion},
			wantText: []string{"(snakepool 9.9.0) speaks 99: install the Python package of this worker's release"},
		},
		{
			name: "a package that cannot be imported", pythonPath: "broken",
			wantText: []string{"cannot import the snakepool package (ImportError: a broken install of snakepool)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.goProtocol != 0 {
				goProtocol = tt.goProtocol
				t.Cleanup(func() { goProtocol = protocolVersion })
			}
			opts := testOptions(t, testAdap, 1)
			if tt.pythonPath != "" {
				opts.Env["PYTHONPATH"] = filepath.Join(releases, tt.pythonPath) + string(filepath.ListSeparator) + testdataDir(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p, err := Start(ctx, opts)
			if p != nil {
				_ = p.Stop(ctx)
			}
			require.Error(t, err)
			t.Log(err)
			for _, text := range tt.wantText {
				assert.Contains(t, err.Error(), text)
			}
			assert.NotContains(t, err.Error(), "unrecognized arguments")
			var pe *ProtocolMismatchError
			if tt.want == nil {
				assert.False(t, errors.As(err, &pe), "%v", err)
				return
			}
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, opts.Name, pe.Pool)
			assert.Equal(t, opts.Python, pe.Python)
			pe.Pool, pe.Python = "", ""
			assert.Equal(t, tt.want, pe)
			requireNoProcesses(t, opts.Name)
		})
	}
}

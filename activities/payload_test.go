package activities_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/activities"
	"github.com/snakepool/snakepool/pools"
)

func TestPayloadLimit(t *testing.T) {
	big := `{"s":"` + strings.Repeat("x", 100) + `"}` // 108 bytes
	tests := []struct {
		name        string
		limit       int
		args        string
		result      string
		wantCalled  bool
		wantMessage string // empty: no error
	}{
		{"both under the limit", 200, big, big, true, ""},
		{"exactly the limit", 108, big, big, true, ""},
		{
			"arguments over the limit are not sent", 100, big, `1`, false,
			`pool "math" tool "echo": the arguments are 108 bytes (0.00 MiB), over the limit of 100 bytes (0.00 MiB, the pool's max_payload_bytes)`,
		},
		{
			"result over the limit", 100, `{}`, big, true,
			`pool "math" tool "echo": the result is 108 bytes (0.00 MiB), over the limit of 100 bytes (0.00 MiB, the pool's max_payload_bytes)`,
		},
		{"negative is no limit", -1, big, big, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &fakePool{tools: []string{"echo"}, run: func(pools.Call) (json.RawMessage, error) {
				return json.RawMessage(tt.result), nil
			}}
			env := newEnvWithOptions(t, pool, activities.Options{MaxPayloadBytes: tt.limit})
			val, err := env.ExecuteActivity("echo", json.RawMessage(tt.args))
			assert.Equal(t, tt.wantCalled, len(pool.calls) == 1)
			if tt.wantMessage == "" {
				require.NoError(t, err)
				var out json.RawMessage
				require.NoError(t, val.Get(&out))
				assert.JSONEq(t, tt.result, string(out))
				return
			}
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, activities.ErrTypePayloadTooLarge, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Equal(t, tt.wantMessage, appErr.Message())
		})
	}
}

// The default limit is Temporal's default payload limit, 2 MiB.
func TestDefaultPayloadLimit(t *testing.T) {
	assert.Equal(t, 2*1024*1024, activities.DefaultMaxPayloadBytes)
	pool := &fakePool{tools: []string{"echo"}, run: func(pools.Call) (json.RawMessage, error) { return json.RawMessage(`1`), nil }}
	env := newEnv(t, pool)
	args := `{"s":"` + strings.Repeat("x", activities.DefaultMaxPayloadBytes) + `"}`
	_, err := env.ExecuteActivity("echo", json.RawMessage(args))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypePayloadTooLarge, appErr.Type())
	assert.Contains(t, appErr.Message(), "over the limit of 2097152 bytes (2.00 MiB, the pool's max_payload_bytes)")
	assert.Empty(t, pool.calls)
}

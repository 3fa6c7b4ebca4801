package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/workflows"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // empty: valid
	}{
		{"minimal", `{"steps":[{"pool":"math","tool":"noop"}]}`, ""},
		{
			"full",
			`{"defaults":{"start_to_close_timeout":"1m","heartbeat_timeout":"10s","retry":{"maximum_attempts":3}},
			  "steps":[{"name":"sq","pool":"math","tool":"square","args":{"x":2},"task_queue":"q",
			            "schedule_to_start_timeout":"5s",
			            "retry":{"initial_interval":"1s","backoff_coefficient":1.5,"maximum_interval":"10s",
			                     "maximum_attempts":2,"non_retryable_error_types":["KeyError"]}}]}`,
			"",
		},
		{"null args", `{"steps":[{"pool":"math","tool":"noop","args":null}]}`, ""},
		{"no steps", `{}`, "invalid pipeline: steps: at least one step is required"},
		{"empty steps", `{"steps":[]}`, "invalid pipeline: steps: at least one step is required"},
		{"missing pool", `{"steps":[{"tool":"noop"}]}`, "invalid pipeline: step 0: steps[0].pool: required"},
		{
			"missing tool names the step",
			`{"steps":[{"pool":"math","tool":"noop"},{"name":"second","pool":"math"}]}`,
			`invalid pipeline: step 1 ("second"): steps[1].tool: required`,
		},
		{"args not an object", `{"steps":[{"pool":"math","tool":"noop","args":[1,2]}]}`, "steps[0].args: must be a JSON object"},
		{"bad duration", `{"steps":[{"pool":"m","tool":"t","start_to_close_timeout":"soon"}]}`, `steps[0].start_to_close_timeout: not a duration (use e.g. "30s", "5m"): "soon"`},
		{"negative duration", `{"steps":[{"pool":"m","tool":"t","heartbeat_timeout":"-1s"}]}`, `steps[0].heartbeat_timeout: must be positive: "-1s"`},
		{"bad default", `{"defaults":{"retry":{"initial_interval":"x"}},"steps":[{"pool":"m","tool":"t"}]}`, `invalid pipeline: defaults.retry.initial_interval: not a duration`},
		{"bad coefficient", `{"steps":[{"pool":"m","tool":"t","retry":{"backoff_coefficient":0.5}}]}`, "steps[0].retry.backoff_coefficient: must be at least 1"},
		{"negative attempts", `{"steps":[{"pool":"m","tool":"t","retry":{"maximum_attempts":-1}}]}`, "steps[0].retry.maximum_attempts: must not be negative"},
		{"duplicate names", `{"steps":[{"name":"a","pool":"m","tool":"t"},{"name":"a","pool":"m","tool":"t"}]}`, `step 1 ("a"): steps[1].name: duplicate of step 0`},
		{"bad name", `{"steps":[{"name":"a b","pool":"m","tool":"t"}]}`, `steps[0].name: must match`},
		{"unknown field", `{"steps":[{"pool":"m","tool":"t","arguments":{}}]}`, `invalid pipeline JSON: json: unknown field "arguments"`},
		{"not JSON", `steps:`, "invalid pipeline JSON"},
		{"trailing data", `{"steps":[{"pool":"m","tool":"t"}]} {}`, "unexpected data after the top-level object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := workflows.ParseSpec([]byte(tt.json))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotEmpty(t, spec.Steps)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSpecErrorFields(t *testing.T) {
	_, err := workflows.ParseSpec([]byte(`{"steps":[{"pool":"m","tool":"t"},{"name":"x","pool":"m","tool":"t","args":"no"}]}`))
	var specErr *workflows.SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, 1, specErr.Step)
	assert.Equal(t, "x", specErr.StepName)
	assert.Equal(t, "steps[1].args", specErr.Field)
}

func TestPoolTaskQueue(t *testing.T) {
	assert.Equal(t, "snakepool.math", workflows.PoolTaskQueue("math"))
}

// Every example pipeline must parse.
func TestExamplePipelinesParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "examples", "pipelines", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			spec, err := workflows.ParseSpec(data)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(spec.Steps), 2)
		})
	}
}

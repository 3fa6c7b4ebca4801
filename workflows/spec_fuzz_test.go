package workflows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/snakepool/snakepool/internal/testenv"
	"github.com/snakepool/snakepool/workflows"
)

// FuzzParseSpec feeds arbitrary bytes to ParseSpec, the starter's parser, and to the workflow's
// own decoding (encoding/json then Validate, as the Temporal data converter does). Its seeds are
// testdata/fuzz/FuzzParseSpec (the bad specs of the tests and the findings of earlier runs) and
// the example pipelines. Invariants:
//
//   - nothing panics;
//   - an error is a *SpecError naming a field (a user's field, not the decoding's "(spec)") and a
//     problem, or a JSON syntax error; its message is UTF-8 and starts with "invalid pipeline";
//   - the starter and the workflow agree: a spec the starter rejects as invalid (not as malformed
//     JSON) fails the workflow with the same message, and a spec it accepts the workflow accepts;
//   - an accepted spec validates again, and its JSON encoding parses back to the same encoding.
//
// Run it with `go test -run='^$' -fuzz=FuzzParseSpec ./workflows` (`make fuzz-smoke` runs it briefly).
func FuzzParseSpec(f *testing.F) {
	examples, err := filepath.Glob(filepath.Join(testenv.RepoRoot(f), "examples", "*", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range examples {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := workflows.ParseSpec(data)
		var asWorkflow workflows.PipelineSpec
		decodeErr := json.Unmarshal(data, &asWorkflow)
		if err != nil {
			checkSpecError(t, err)
			var specErr *workflows.SpecError
			if decodeErr == nil && errors.As(err, &specErr) {
				wfErr := asWorkflow.Validate()
				if wfErr == nil || wfErr.Error() != err.Error() {
					t.Fatalf("the starter says %q, the workflow %v", err, wfErr)
				}
			}
			return
		}
		if decodeErr != nil {
			t.Fatalf("the starter accepts what the workflow cannot decode: %v", decodeErr)
		}
		if err := asWorkflow.Validate(); err != nil {
			t.Fatalf("the starter accepts what the workflow rejects: %v", err)
		}
		if err := spec.Validate(); err != nil {
			t.Fatalf("a parsed spec does not validate again: %v", err)
		}
		encoded, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("encode a parsed spec: %v", err)
		}
		again, err := workflows.ParseSpec(encoded)
		if err != nil {
			t.Fatalf("a parsed spec's encoding does not parse: %v\n%s", err, encoded)
		}
		reencoded, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("encode the spec again: %v", err)
		}
		if !bytes.Equal(encoded, reencoded) {
			t.Fatalf("the JSON round trip changed the spec:\n%s\n%s", encoded, reencoded)
		}
	})
}

// checkSpecError fails t unless err is what ParseSpec promises: a *SpecError with a field and a
// problem, or an "invalid pipeline JSON" error; either way a UTF-8 message.
func checkSpecError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("the message is not UTF-8: %q", msg)
	}
	var specErr *workflows.SpecError
	switch {
	case errors.As(err, &specErr):
		if specErr.Field == "" || specErr.Problem == "" || specErr.Step < -1 {
			t.Fatalf("a SpecError without a field or problem: %#v", specErr)
		}
		// "(spec)" is for a spec that is not an object, and the safety net of the decoding for what
		// the field checks do not know: the internals of "continued", which the workflow sets.
		if specErr.Field == "(spec)" && !strings.HasPrefix(specErr.Problem, "must be a JSON object") && !strings.Contains(specErr.Problem, "Continuation") {
			t.Fatalf("a field the checks do not know: %#v", specErr)
		}
		if specErr.Step >= 0 && specErr.StepPath == "" && !strings.HasPrefix(specErr.Field, "steps[") && !strings.HasPrefix(specErr.Field, "finally[") {
			t.Fatalf("a step's SpecError without the step's path: %#v", specErr)
		}
		if !strings.HasPrefix(msg, "invalid pipeline: ") {
			t.Fatalf("the message does not start with \"invalid pipeline: \": %q", msg)
		}
	case strings.HasPrefix(msg, "invalid pipeline JSON: "):
	default:
		t.Fatalf("neither a SpecError nor a JSON error: %T %q", err, msg)
	}
}

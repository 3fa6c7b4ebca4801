// Package activities turns the tools of a snakepool pool into Temporal activities.
//
// Each tool becomes one activity named after the tool, whose function takes and returns raw JSON,
// so a caller's arguments reach Python untouched:
//
//	func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)
//
// The activity relays the tool's heartbeats to Temporal, passes the last heartbeat of a previous
// attempt to the tool as ctx.resume, and maps Python errors to Temporal ApplicationErrors (see
// Error). A dynamic activity answers calls of tools the pool does not have with a non-retryable
// ToolNotFound error that names the tool, instead of Temporal's generic retryable "unable to find
// activityType".
package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/snakepool/snakepool/pools"
)

// Runner runs tool calls; *pools.Pool implements it.
type Runner interface {
	Call(ctx context.Context, call pools.Call) (json.RawMessage, error)
}

// Pool is what Register needs of a pool; *pools.Pool implements it.
type Pool interface {
	Runner
	// Name names the pool in errors.
	Name() string
	// Tools lists the tools to register.
	Tools() []pools.ToolSpec
}

// Registry is where activities are registered; worker.Worker implements it.
type Registry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
	RegisterDynamicActivity(a any, options activity.DynamicRegisterOptions)
}

// Func is the signature of a tool's activity.
type Func = func(ctx context.Context, args json.RawMessage) (json.RawMessage, error)

// ErrTypeToolNotFound is the ApplicationError type of a call of a tool the pool does not have. It is
// also the type the Python bridge uses for the same error.
const ErrTypeToolNotFound = "ToolNotFound"

// Register registers one activity per tool of pool under the tool's name, and a dynamic activity
// that fails calls of any other name with a non-retryable ToolNotFound error listing the pool's
// tools. It returns the names of the registered tools.
func Register(r Registry, pool Pool) []string {
	names := make([]string, 0, len(pool.Tools()))
	for _, tool := range pool.Tools() {
		r.RegisterActivityWithOptions(Tool(pool, pool.Name(), tool.Name), activity.RegisterOptions{Name: tool.Name})
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	r.RegisterDynamicActivity(unknownTool(pool.Name(), names), activity.DynamicRegisterOptions{})
	return names
}

// Tool returns the activity that runs tool on runner; pool names the pool in errors.
func Tool(runner Runner, pool, tool string) Func {
	return func(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
		info := activity.GetInfo(ctx)
		call := pools.Call{
			Tool: tool,
			Args: args,
			Info: pools.CallInfo{
				WorkflowID:   info.WorkflowExecution.ID,
				RunID:        info.WorkflowExecution.RunID,
				ActivityID:   info.ActivityID,
				ActivityType: info.ActivityType.Name,
				Attempt:      info.Attempt,
				TaskQueue:    info.TaskQueue,
				Namespace:    info.WorkflowNamespace,
			},
			OnHeartbeat: func(hb pools.Heartbeat) {
				activity.RecordHeartbeat(ctx, heartbeatDetails(hb)...)
			},
			Resume: resumeDetails(ctx),
		}
		result, err := runner.Call(ctx, call)
		if err != nil {
			return nil, Error(ctx, pool, tool, err)
		}
		return result, nil
	}
}

// heartbeatDetails are the details recorded for a heartbeat: the tool's JSON details (null when it
// gave none), then its progress when it gave one. The Web UI shows both; resumeDetails reads the
// first back on the next attempt.
func heartbeatDetails(hb pools.Heartbeat) []any {
	details := hb.Details
	if len(details) == 0 {
		details = json.RawMessage("null")
	}
	if hb.Progress < 0 {
		return []any{details}
	}
	return []any{details, hb.Progress}
}

// resumeDetails returns the JSON details of the previous attempt's last heartbeat, or nil.
func resumeDetails(ctx context.Context) json.RawMessage {
	if !activity.HasHeartbeatDetails(ctx) {
		return nil
	}
	var details json.RawMessage
	if err := activity.GetHeartbeatDetails(ctx, &details); err != nil {
		activity.GetLogger(ctx).Warn("Ignoring undecodable heartbeat details of the previous attempt", "error", err)
		return nil
	}
	if strings.TrimSpace(string(details)) == "null" {
		return nil
	}
	return details
}

// unknownTool is the dynamic activity of a pool: every activity type that is not one of its tools.
func unknownTool(pool string, tools []string) func(context.Context, converter.EncodedValues) (json.RawMessage, error) {
	return func(ctx context.Context, _ converter.EncodedValues) (json.RawMessage, error) {
		name := activity.GetInfo(ctx).ActivityType.Name
		msg := fmt.Sprintf("pool %q has no tool %q (its tools: %s)", pool, name, strings.Join(tools, ", "))
		return nil, temporal.NewNonRetryableApplicationError(msg, ErrTypeToolNotFound, nil)
	}
}

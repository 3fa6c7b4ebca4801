package workflows

import "go.temporal.io/sdk/workflow"

// Changing Pipeline. Every run in flight is replayed by the code of the next deploy, so a change
// that makes Pipeline issue other commands (activities, timers, child workflows, markers, memo and
// search attribute upserts, continue-as-new) for a spec that older code ran must keep the old
// behaviour for old runs. The policy (docs/pipelines.md#changing-pipeline):
//
//   - A change of behaviour for existing specs gets the next version of pipelineChangeID, and the
//     code branches on the version that the run recorded: version := workflow.GetVersion(ctx,
//     pipelineChangeID, workflow.DefaultVersion, latestVersion) is called once, at the start of
//     every run of a valid spec, and old runs (no marker) replay as DefaultVersion.
//   - A new spec field needs no version: no run in flight has it (older code rejected it as an
//     unknown field, so no history has it either).
//   - The minimum supported version is raised, and the branches of older versions deleted, only
//     once no run of those versions can be in flight (all closed, past retention).
//   - A change that cannot keep old runs working (a new input or result type, a rewrite) is a new
//     workflow type, "PipelineV2", registered beside Pipeline until Pipeline's runs have closed.
//
// The replay suite (replay_test.go) replays histories recorded by every version; `make
// replay-record` records those of the latest one.
const pipelineChangeID = "snakepool.pipeline"

const (
	// versionWorkerChecks asks the worker, in a local activity, which task queue serves each pool
	// and whether any worker polls it (NoWorker), and which search attributes the namespace has;
	// gives steps DefaultHeartbeatTimeout; sets the memo and search attributes; continues as new
	// past MaxHistoryEvents.
	versionWorkerChecks workflow.Version = 1

	// latestVersion is the version new runs record.
	latestVersion = versionWorkerChecks
)

// getVersion is workflow.GetVersion; a test replaces it to show that the replay suite catches a
// change without a version.
var getVersion = workflow.GetVersion

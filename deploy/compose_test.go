package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/snakepool/snakepool/internal/testenv"
)

// loadCompose loads docker-compose.yml as `docker compose` does, with compose-go: the
// compose-spec schema, interpolation with the defaults of its variables, normalisation and the
// consistency checks (every service a depends_on names exists, and so on), with every profile on.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := testenv.RepoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("snakepool"), cli.WithProfiles([]string{"*"}),
		cli.WithEnv(nil), cli.WithConsistency(true), cli.WithNormalization(true), cli.WithInterpolation(true))
	require.NoError(t, err)
	project, err := cli.ProjectFromOptions(context.Background(), opts)
	require.NoError(t, err, "docker-compose.yml is not a valid compose file")
	return project
}

// TestDockerComposeIsValid: the compose file loads; it runs Temporal on PostgreSQL, the Web UI,
// two worker replicas from the repository's Dockerfile, Prometheus and Grafana whose mounted
// files exist in deploy/.
func TestDockerComposeIsValid(t *testing.T) {
	project := loadCompose(t)
	root := testenv.RepoRoot(t)
	names := project.ServiceNames()
	slices.Sort(names)
	assert.Equal(t, []string{"grafana", "postgresql", "prometheus", "starter", "temporal", "temporal-ui", "worker"}, names)

	temporal := project.Services["temporal"]
	assert.Equal(t, "postgres12", *temporal.Environment["DB"])
	assert.Equal(t, "postgresql", *temporal.Environment["POSTGRES_SEEDS"], "the PostgreSQL service")
	assert.Contains(t, temporal.DependsOn, "postgresql")
	assert.Equal(t, "temporal:7233", *project.Services["temporal-ui"].Environment["TEMPORAL_ADDRESS"])

	w := project.Services["worker"]
	require.NotNil(t, w.Deploy)
	require.NotNil(t, w.Deploy.Replicas)
	assert.Equal(t, 2, *w.Deploy.Replicas, "two worker replicas")
	assert.Empty(t, w.Ports, "replicas publish no host port (they would clash); Prometheus scrapes them")
	assert.Contains(t, w.Command, "temporal:7233")

	for _, service := range []string{"prometheus", "grafana"} {
		for _, v := range project.Services[service].Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			_, err := os.Stat(v.Source)
			assert.NoError(t, err, "%s mounts %s, which must exist", service, v.Source)
			rel, err := filepath.Rel(root, v.Source)
			require.NoError(t, err)
			assert.Regexp(t, `^deploy/`, rel, "%s mounts files of deploy/", service)
		}
	}
	assert.Equal(t, "http://localhost:8233", project.Services["starter"].Command[len(project.Services["starter"].Command)-1],
		"the starter's links point at the Web UI's host port")
	assert.Contains(t, project.Services["temporal-ui"].Ports[0].Published, "8233")
}

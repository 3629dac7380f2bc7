// Package deploy holds the container deployment of tallyq beside its tests:
// docker-compose.yml and the Dockerfile at the repository root, and here the
// Prometheus, Grafana and RabbitMQ settings they mount and make-env.sh, which
// writes the .env that docker-compose.yml reads.
//
// It has no Go code of its own. Its tests check those files without a Docker
// engine: they load docker-compose.yml as Docker Compose does
// (compose-spec/compose-go), run promtool on the Prometheus configuration,
// and run the tallyq binary with each service's command and environment, so
// that the deployment cannot drift from the code.
package deploy

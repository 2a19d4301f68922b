// Package patroni is a client of Patroni's REST API (GET /cluster, /patroni,
// /health; POST /switchover, /failover, /reinitialize, /restart, /reload;
// PATCH /config, which also pauses and resumes), with basic authentication
// for the unsafe endpoints, and waits that poll for the outcome of slow
// requests (restart, switchover, reinitialise) with deadlines sized to
// them (wait.go).
//
// Patroni decides which unit is primary (DESIGN §3); the charm only asks and
// reports.
package patroni

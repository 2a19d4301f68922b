// Package patroni is a client of Patroni's REST API (GET /cluster, /patroni,
// /health; POST /switchover, /failover, /reinitialize, /restart, /reload;
// PATCH /config), with basic authentication for the unsafe endpoints.
//
// Patroni decides which unit is primary (DESIGN §3); the charm only asks and
// reports.
package patroni

// Package postgres holds the charm's SQL operations with pgx/v5, over the
// unit's socket directory or its address: system users and their passwords,
// server version, SHOW, and pending_restart detection.
//
// Rules (DESIGN §7): identifiers are quoted with pgx.Identifier.Sanitize,
// values go as query parameters, and passwords never reach the server in
// clear text: a utility statement such as ALTER ROLE cannot take a bound
// parameter, so the SCRAM-SHA-256 verifier is computed here (ScramVerifier)
// and sent instead, the way psql's \password and libpq's
// PQencryptPasswordConn do. The verifier consists only of base64, digits,
// '$' and ':', so it is a safe literal, and a password therefore never
// appears in server logs, pg_stat_statements or an error message.
package postgres

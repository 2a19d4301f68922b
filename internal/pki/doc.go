// Package pki is the cluster's small certificate authority: the CA the
// charm's leader generates once (ECDSA P-256, kept with the system users'
// passwords in the application's secret), and the certificates each unit
// issues from it, in memory, for its etcd member and etcd's clients.
//
// Every function is pure apart from the randomness of key generation: the
// time comes from the caller (an injected clock), and nothing touches the
// disk. Certificates and keys travel as PEM.
package pki

// Package etcd manages the application's etcd cluster, Patroni's DCS: one
// member per unit, membership kept by the Juju leader with the etcd v3 API
// (MemberList, MemberAdd, MemberRemove), and authentication (a root user
// whose password lives in the application's secret; EnsureAuth trusts no
// user or password it finds). Config.TLS makes it talk https with a client
// certificate, as members with client-cert-auth require.
//
// It talks to etcd's v3 JSON gateway over HTTP, not gRPC: the official
// client links gRPC and protobuf, whose package initialisation alone cost
// every dispatch of the charm binary about 10 ms.
//
// The member's configuration file is rendered by internal/pgconf
// (RenderEtcd); this package holds the effects.
package etcd

package credentials

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/pki"
	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Names of the credential records in Juju.
const (
	// SecretLabel labels the application-owned secret of the system users.
	SecretLabel = "system-users"
	// ClientSecretLabel labels the application-owned secret holding every
	// client relation user's password.
	ClientSecretLabel = "client-relations"
	// SecretIDKey and ClientSecretIDKey (peer app databag) share those
	// secrets' ids, so units other than the leader can read them.
	SecretIDKey       keys.Peer = "system-users-secret"
	ClientSecretIDKey keys.Peer = "client-relations-secret"
	// GenerationKey (a key of the system-users secret) counts password
	// rotations (pgconf.Passwords.Generation).
	GenerationKey = "generation"
	// CACertKey and CAKeyKey (keys of the system-users secret) hold the
	// cluster CA of etcd's TLS (PEM). A secret created before etcd TLS
	// has neither, and its application keeps plain HTTP.
	CACertKey = "etcd-ca-cert"
	CAKeyKey  = "etcd-ca-key"
)

// EtcdUser is etcd's root user as the actions name it.
const EtcdUser = "etcd"

// User is one system user: its key in the secret, where its password
// goes in pgconf.Passwords, and the attributes of its PostgreSQL role
// (nil for users that are no PostgreSQL role).
type User struct {
	Name      string
	SecretKey string
	// Role: the user is a PostgreSQL role, with Attributes.
	Role       bool
	Attributes []postgres.RoleAttr
	field      func(*pgconf.Passwords) *string
}

// Users is the one table of the system users.
var Users = []User{
	{Name: pgconf.OperatorUser, SecretKey: "operator-password", Role: true, Attributes: []postgres.RoleAttr{postgres.AttrSuperuser},
		field: func(p *pgconf.Passwords) *string { return &p.Operator }},
	{Name: pgconf.ReplicationUser, SecretKey: "replication-password", Role: true, Attributes: []postgres.RoleAttr{postgres.AttrReplication},
		field: func(p *pgconf.Passwords) *string { return &p.Replication }},
	{Name: pgconf.RewindUser, SecretKey: "rewind-password", Role: true,
		field: func(p *pgconf.Passwords) *string { return &p.Rewind }},
	{Name: pgconf.PatroniAPIUser, SecretKey: "patroni-password",
		field: func(p *pgconf.Passwords) *string { return &p.PatroniAPI }},
	{Name: EtcdUser, SecretKey: "etcd-password",
		field: func(p *pgconf.Passwords) *string { return &p.Etcd }},
}

// Lookup finds a system user by name.
func Lookup(name string) (User, bool) {
	for _, u := range Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// PasswordOf returns u's password in p.
func (u User) PasswordOf(p pgconf.Passwords) string { return *u.field(&p) }

// PasswordsFrom reads the system-users secret's content; every password
// must be there.
func PasswordsFrom(content map[string]string) (pgconf.Passwords, error) {
	p := pgconf.Passwords{Generation: content[GenerationKey]}
	for _, u := range Users {
		*u.field(&p) = content[u.SecretKey]
		if content[u.SecretKey] == "" {
			return p, fmt.Errorf("the system-users secret has no %s password", u.Name)
		}
	}
	return p, nil
}

// CAFrom reads the cluster CA from the system-users secret's content;
// empty when the secret predates etcd TLS.
func CAFrom(content map[string]string) pki.CA {
	if content[CACertKey] == "" || content[CAKeyKey] == "" {
		return pki.CA{}
	}
	return pki.CA{CertPEM: []byte(content[CACertKey]), KeyPEM: []byte(content[CAKeyKey])}
}

// NewSystemUsers generates every system user's password and the cluster
// CA (valid from now): the content of a new system-users secret.
func NewSystemUsers(app string, now time.Time) (map[string]string, error) {
	ca, err := pki.NewCA("etcd CA of "+app, now)
	if err != nil {
		return nil, err
	}
	content := map[string]string{CACertKey: string(ca.CertPEM), CAKeyKey: string(ca.KeyPEM)}
	for _, u := range Users {
		pw, err := postgres.GeneratePassword()
		if err != nil {
			return nil, err
		}
		content[u.SecretKey] = pw
	}
	return content, nil
}

// WithPassword returns content with user's password replaced and the
// generation counted up.
func WithPassword(content map[string]string, u User, password string) map[string]string {
	out := make(map[string]string, len(content)+1)
	for k, v := range content {
		out[k] = v
	}
	gen, _ := strconv.Atoi(content[GenerationKey])
	out[u.SecretKey], out[GenerationKey] = password, strconv.Itoa(gen+1)
	return out
}

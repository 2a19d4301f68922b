package backups

import "github.com/pgjuju/pgjuju/internal/charm/keys"

// StanzaKey (peer application databag, leader): the stanza the
// application archives into when it is not the default one (after a
// restore).
const StanzaKey keys.Peer = "backups-stanza"

// StanzaCreatedKey (unit state): "<stanza>@<path>" once this unit, as the
// primary, created or checked the stanza in that repository.
const StanzaCreatedKey keys.State = "backups-stanza-created"

// StanzaFailedKey (unit state): "<mark>\n<reason>" after the primary's
// stanza-create failed for those repositories (see RetryStanza).
const StanzaFailedKey keys.State = "backups-stanza-failed"

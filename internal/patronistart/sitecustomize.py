# Installed by the postgresql charm (package patronistart) on Patroni's
# PYTHONPATH; Python imports it at start-up. It fixes one bug of Debian
# bookworm's Patroni 3.0.2 and changes nothing on any other version.
#
# The bug (fixed upstream in 3.0.3, PR #2689): a leader whose lease
# expired while its loop was stopped (SIGSTOP, a frozen machine) or its
# etcd was cut off gets a new lease and writes the leader key again
# unconditionally, although a replica was promoted meanwhile: the
# promoted replica is demoted, left diverged, and what it acknowledged is
# lost. With this fix the key is written again only where it is still
# this member's own key as last read (same revision) or where there is
# none at all; otherwise the update fails and Patroni demotes this member,
# as it does whenever it cannot update its lock.
import logging
import time

try:
    from patroni.dcs import Leader
    from patroni.dcs import etcd3
except Exception:  # not Patroni's interpreter, or no etcd3 support
    etcd3 = None

logger = logging.getLogger(__name__)


def _version():
    try:
        from patroni.version import __version__
        return __version__
    except Exception:
        return ''


def _update_leader(self):
    retry = self._retry.copy()

    def _retry(*args, **kwargs):
        kwargs['retry'] = retry
        return retry(*args, **kwargs)

    self._run_and_handle_exceptions(self._do_refresh_lease, True, retry=_retry)

    if not self._lease:
        return False
    cluster = self.cluster
    leader = cluster and isinstance(cluster.leader, Leader) and cluster.leader
    if leader and leader.session == self._lease:
        return True
    retry.deadline = retry.stoptime - time.time()
    if retry.deadline < 1:
        raise etcd3.Etcd3Error('update_leader timeout')
    def put(**condition):
        return self._run_and_handle_exceptions(self._client.put, self.leader_path, self._name,
                                               self._lease, retry=_retry, **condition)

    try:
        # Our key as last read: replace exactly that revision; else (it
        # expired, or another member's is there) write only where none
        # exists.
        written = leader and leader.name == self._name and put(mod_revision=leader.index)
        if not written:
            written = put(create_revision='0')
    except etcd3.ReturnFalseException:
        return False
    if not written:
        logger.warning('pgjuju: not writing the leader key again: another member holds it '
                       '(Patroni 3.0.2 leader-key fix)')
        return False
    return True


if etcd3 is not None and _version() == '3.0.2':
    etcd3.Etcd3._update_leader = etcd3.catch_return_false_exception(_update_leader)
    etcd3.Etcd3._pgjuju_leader_key_fix = True

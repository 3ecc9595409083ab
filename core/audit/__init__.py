"""The audit trail (MLPS 2.0 level 3 security audit, PIPL art. 51/55): who, when, from
where, did what to which object, with what outcome.

* ``models``: the append-only, hash-chained entries and the chain head;
* ``trail``: ``record`` (one event), ``append`` (the chain), ``verify``, ``purge``;
* ``listeners``: every insert, update and delete of a data model, with a field diff
  (sensitive values masked), written in the same transaction as the change;
* ``web``: request hooks — denied requests, opening a person's full record;
* ``views`` and ``commands``: the audit screen, its xlsx export, ``retiree-admin audit``.
"""

"""``secure-up renew``: move a secret to a new value everywhere it lives, as one transaction.

The modules, in the order the transaction uses them:

- plan.py: where each secret lives, from the ``renew`` block of ``x-secure-up``;
- state.py: the pending record beside the secrets file (a sops file: the new
  value, encrypted to the file's recipients), so a crash can be resumed or aborted;
- stack.py: the running compose project (exec into a service, recreate, health);
- interface.py: what an applier does; postgres.py, redis.py, exec.py: the appliers;
- transaction.py: the steps (create, set, test, finish, restart), each idempotent.
"""

"""The domain core: what a monitor is and what a check means, with no Flask, database, queue or network.

One name per concept:
- `CheckSpec` (check.py): what to check, built from a monitor.
- `Observation` (check.py): what the engine saw on the wire: status, headers, a capped body when an
  assertion needs it, timings, TLS facts, or a transport error. The engine returns it and judges nothing.
- `Verdict` (verdict.py): what `evaluate(spec, observation)` decides: ok or not, with one line per condition.
- `MonitorState` and `next_state` (status.py): the statuses and the pure state machine over verdicts.
- `Transition` (status.py): one change of a monitor's status, as recorded (table `state_changes`) and alerted.
- `lifecycle` (lifecycle.py): what creating and editing a monitor does to its state (the resets an edit causes).
- `TlsFacts`, `TlsWarning` and `warning_due` (tls.py): the certificate a check saw, and which expiry warning is
  due (not a state change: the status is untouched).

The stored forms keep their table names: a Verdict with its Observation is stored as a `CheckResult` row, a
Transition as a `StateChange` row (healthmon.models).
"""

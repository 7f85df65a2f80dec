"""Alerts: rules over the marts, an outbox table, and delivery that never loses or repeats.

Rules (``[alerts.rules.*]`` in the config; defaults in ``DEFAULT_ALERT_CONFIG``):

* ``provider_price_move`` -- a provider's lowest price for a GPU and price type moved by >=
  ``threshold_pct`` against its previous observation (``marts.price_changes``), up or down;
* ``market_price_move``  -- the market's like-for-like 7-day change (``marts.daily_summary``,
  from the index of methodology 2.0) moved >= ``threshold_pct``;
* ``availability``       -- a provider's offers for a GPU x price type fell to zero (the
  provider still reported other GPUs that day), fell by >= ``drop_pct``, or came back;
* ``new``                -- a GPU model or provider seen for the first time (not on the first day
  of the history, when everything is new); a release from a watched organization
  (``marts.model_releases``); an API price cut >= ``api_price_cut_pct`` (``marts.api_prices_daily``);
* ``serving_cost_move``  -- a model's cheapest serving cost per 1M output tokens, or its serving
  margin (``marts.serving_cost_daily``), moved >= ``threshold_pct`` / ``margin_threshold_pct``;
* ``source_health``      -- a source failed or returned nothing for the date (``raw.load_log``), or
  its newest good data is older than ``max_age_hours`` at the end of the date.

Flap guard: a provider series whose moves of at least the threshold reversed direction
``min_reversals`` times in the last ``window_days`` is *flapping*; it gets one alert per
ISO week (its id is keyed by the week), saying between which levels it flaps.

Outbox: ``marts.alerts``. ``alert_id`` = hash of rule, subject and date (or week for a flap),
so the same alert is never inserted twice and a re-run inserts nothing. Delivery tracks
channels per alert: an alert is delivered when every configured channel (log, webhook,
e-mail) has it; a channel that is down leaves it pending (``attempts``, ``last_error``) for
the next evaluation, and a channel that succeeded is never sent the alert again.

Delivery happens with no warehouse lock held: the pending alerts are claimed in a short
write, sent (each channel within a wall-clock ``deadline_seconds``, however slowly the
receiver drips), and the outcomes recorded in a second short write. A send has three
outcomes: delivered; *failed* (refused, HTTP error, rejected -- retried next time); *unknown*
(sent, but no answer before the deadline -- it may have arrived). Every webhook POST carries
an ``Idempotency-Key`` header (also ``idempotency_key`` in the body; each alert has its
``alert_id``), e-mails a ``Message-ID`` from the same key; an unknown alert is not re-sent
blindly (see ``send_pending`` for the policy). Secrets (webhook URL, SMTP password, and their
base64 forms an SMTP server may echo) come from config/environment and never reach logs,
errors or payloads.

The package, by concern: ``config`` (defaults, merge, the alert row), ``prices`` and ``events``
(the rules), ``rules`` (registry, ``evaluate_rules``), ``outbox`` (``marts.alerts``: record,
claim, record outcomes), ``channels`` (log/webhook/e-mail delivery, deadlines, idempotency
keys, redaction) and ``run`` (the runs that tie them together). Every public name is
re-exported here, so ``from pipelines.lib.alerts import ...`` keeps working; patch a name
in the module that uses it (e.g. ``pipelines.lib.alerts.channels._SENDERS``).
"""

from __future__ import annotations

from pipelines.lib.alerts.channels import (
    _SENDERS,
    DeliveryFailed,
    DeliveryUnknown,
    channels,
    delivery_key,
    send_pending,
)
from pipelines.lib.alerts.config import (
    ALERT_COLUMNS,
    DEFAULT_ALERT_CONFIG,
    DETAILS,
    _alert,
    alert_config,
    alert_id,
)
from pipelines.lib.alerts.events import rule_new, rule_serving_cost_move, rule_source_health
from pipelines.lib.alerts.outbox import (
    ALERTS_ADDED_COLUMNS,
    ALERTS_DDL,
    _tables,
    claim_pending,
    record,
    record_outcomes,
)
from pipelines.lib.alerts.prices import (
    rule_availability,
    rule_market_price_move,
    rule_provider_price_move,
)
from pipelines.lib.alerts.rules import RULES, evaluate_rules
from pipelines.lib.alerts.run import (
    AlertRunResult,
    alert_failed_run,
    deliver,
    evaluate_and_deliver,
)

__all__ = [
    # private, but the tests build alerts and read frames with them; _SENDERS is the
    # channel table (patch its items, or names in the module that uses them)
    "_SENDERS",
    "_alert",
    "_tables",
    "ALERTS_ADDED_COLUMNS",
    "ALERTS_DDL",
    "ALERT_COLUMNS",
    "DEFAULT_ALERT_CONFIG",
    "DETAILS",
    "RULES",
    "AlertRunResult",
    "DeliveryFailed",
    "DeliveryUnknown",
    "alert_config",
    "alert_failed_run",
    "alert_id",
    "channels",
    "claim_pending",
    "deliver",
    "delivery_key",
    "evaluate_and_deliver",
    "evaluate_rules",
    "record",
    "record_outcomes",
    "rule_availability",
    "rule_market_price_move",
    "rule_new",
    "rule_provider_price_move",
    "rule_serving_cost_move",
    "rule_source_health",
    "send_pending",
]

"""fraud-detection: four rules in Flink SQL over validated trading events.

Rules (thresholds are job parameters, ``--set key=value``):

* ``velocity``: more than ``velocity_max_count`` transactions of a user within 5 minutes:
  the ``velocity_max_count``-th previous transaction (``LAG`` in ``user_history``) is at
  most 5 minutes older. (A ``RANGE 5 MINUTE`` OVER window did the same at ~0.7 ms per row.)
* ``geo_velocity``: the user's previous transaction (LAG) is more than
  ``geo_min_distance_km`` away (haversine in SQL) at an implied speed above
  ``geo_max_speed_kmh``.
* ``small_then_large``: ``cep_min_small``+ transactions below ``cep_small_amount`` followed
  by one of at least ``cep_large_amount`` within 10 minutes (MATCH_RECOGNIZE).
* ``amount_anomaly``: amount above ``anomaly_factor`` x the user's running average, once the
  user has ``anomaly_min_history`` earlier transactions (OVER UNBOUNDED, TTL-bounded).

Outputs under ``--output-dir`` (the platform bucket, ``s3://<bucket>``), exactly-once (parts
commit on checkpoint): ``alerts/fraud-detection/``, ``dead-letter/fraud-detection/`` (the
line and its reason), ``user-counters/fraud-detection/`` (running per-user counters of the
``watchlist`` users: the keyed-state observable for upgrades). With
``--alerts-stream-arn``, the same alerts also go to the alerts stream (Kinesis,
at-least-once: ``alert_id`` = ``<rule>:<event_id>`` is stable, so consumers deduplicate by
it). Every alert carries ``user_txn_count``, the user's transaction count from keyed state.
"""

from __future__ import annotations

from job_common import (
    age_observed,
    counted_as,
    create_table_env,
    file_sink,
    kinesis_sink,
    parse_args,
    register_sources,
    run,
)
from sql_sources import NOW_MS, epoch_ms, quoted_list

JOB = "fraud-detection"
DEFAULTS: dict[str, object] = {
    "velocity_max_count": 8,
    "geo_max_speed_kmh": 1000.0,
    "geo_min_distance_km": 500.0,
    "cep_small_amount": 5.0,
    "cep_large_amount": 1000.0,
    "cep_min_small": 3,
    "anomaly_factor": 10.0,
    "anomaly_min_history": 5,
    "watchlist": "U0900000,U0900001,U0900002,U0900003,U0900004",
}
TRADE_COLUMNS_READ = ("event_id", "user_id", "account_id", "amount", "lat", "lon", "city",
                      "event_time_ms", "ingest_ts", "ts")
ALERT_COLUMNS = """alert_id STRING, rule_id STRING, user_id STRING, account_id STRING,
    event_id STRING, event_time_ms BIGINT, detection_time_ms BIGINT, ingest_ms BIGINT,
    user_txn_count BIGINT, evidence STRING, job_version STRING"""
DEAD_LETTER_COLUMNS = """source_stream STRING, reason STRING, raw_line STRING,
    detection_time_ms BIGINT, job_version STRING"""
COUNTER_COLUMNS = """user_id STRING, event_id STRING, event_time_ms BIGINT,
    user_txn_count BIGINT, user_amount_total DECIMAL(38, 2), job_version STRING"""
HAVERSINE = """2 * 6371 * ASIN(SQRT(
    POWER(SIN(RADIANS(lat - prev_lat) / 2), 2)
    + COS(RADIANS(prev_lat)) * COS(RADIANS(lat)) * POWER(SIN(RADIANS(lon - prev_lon) / 2), 2)))"""


def define_views(t_env, args) -> None:
    """user_history (OVER unbounded: count, sum, previous transaction, velocity base)."""
    n = int(args["velocity_max_count"])
    # One LAG of a ROW keeps one accumulator for the previous transaction instead of five.
    # The ROW is flattened here, in the operator shared by every consumer: each Calc that
    # reads a nested row copies it whole (object reuse), so it is read once, not per rule.
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW user_history AS
        SELECT event_id, user_id, account_id, amount, lat, lon, city, event_time_ms, ingest_ts,
          ts, user_txn_count, user_amount_total, previous.lat AS prev_lat,
          previous.lon AS prev_lon, previous.time_ms AS prev_time_ms,
          previous.city AS prev_city, previous.amount AS prev_amount, velocity_base_ms
        FROM (
          SELECT *,
            COUNT(*) OVER w AS user_txn_count,
            SUM(amount) OVER w AS user_amount_total,
            LAG(CAST(ROW(lat, lon, event_time_ms, city, amount) AS ROW<lat DOUBLE, lon DOUBLE,
              time_ms BIGINT, city STRING, amount DECIMAL(18, 2)>)) OVER w AS previous,
            LAG(event_time_ms, {n}) OVER w AS velocity_base_ms
          FROM valid_trades
          WINDOW w AS (PARTITION BY user_id ORDER BY ts))""")
    s = args.settings
    # The named per-row conditions. The planner gives each alert query its own filter Calc
    # on the OVER's output; a Calc reads only its filter's columns before the filter passes
    # (the strings it passes on are copied only for hits).
    # anomaly_hit: amount > factor x the history's average, without a per-row DECIMAL
    # division (it cost more than the rest of the OVER chain).
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW rule_checks AS
        SELECT *, event_time_ms - velocity_base_ms <= 300000 AS velocity_hit,
          distance_km > {float(s['geo_min_distance_km'])}
            AND distance_km / elapsed_h > {float(s['geo_max_speed_kmh'])} AS geo_hit,
          user_txn_count - 1 >= {int(s['anomaly_min_history'])}
            AND amount * (user_txn_count - 1) > {float(s['anomaly_factor'])}
                * (user_amount_total - amount) AS anomaly_hit
        FROM (SELECT *, {HAVERSINE} AS distance_km,
                GREATEST(event_time_ms - prev_time_ms, 1000) / 3600000.0 AS elapsed_h
              FROM user_history)""")
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW rule_hits AS
        SELECT * FROM rule_checks WHERE velocity_hit OR geo_hit OR anomaly_hit""")


def _alert(rule: str, evidence: str, source: str, where: str, version: str) -> str:
    rule_id = counted_as(f"'{rule}'", "alerts", "rule_id")  # alerts by rule, as a metric
    event_ms = age_observed("event_time_ms", "event_to_alert_ms")  # the latency histogram
    return f"""
        SELECT '{rule}:' || event_id, {rule_id}, user_id, account_id, event_id, {event_ms},
               {NOW_MS}, {epoch_ms('ingest_ts')}, user_txn_count, JSON_OBJECT({evidence}),
               '{version}'
        FROM {source} WHERE {where}"""


def alert_queries(args) -> list[str]:
    s, v = args.settings, args.version
    small = float(s['cep_small_amount'])
    # Only rows that can change the pattern's state reach MATCH_RECOGNIZE: small ones, and
    # rows right after a small one (a partial match exists only then). Any other row meets
    # no partial match and starts none (strict contiguity): dropping it changes no result,
    # and the CEP operator sees a few % of the traffic instead of all of it.
    cep = f"""(SELECT * FROM (
            SELECT user_id, ts, event_id, account_id, event_time_ms, ingest_ts, user_txn_count,
                   amount
            FROM user_history WHERE amount < {small} OR prev_amount < {small})
        MATCH_RECOGNIZE (
            PARTITION BY user_id ORDER BY ts
            MEASURES L.event_id AS event_id, L.account_id AS account_id,
                     L.event_time_ms AS event_time_ms, L.ingest_ts AS ingest_ts,
                     L.user_txn_count AS user_txn_count, L.amount AS large_amount,
                     COUNT(S.event_id) AS small_count, SUM(S.amount) AS small_total,
                     FIRST(S.event_time_ms) AS first_small_ms
            ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
            PATTERN (S{{{int(s['cep_min_small'])},}} L) WITHIN INTERVAL '10' MINUTE
            DEFINE S AS S.amount < {small},
                   L AS L.amount >= {float(s['cep_large_amount'])}))"""
    return [
        _alert("velocity", f"KEY 'min_txn_5min' VALUE {int(s['velocity_max_count']) + 1}, "
               "KEY 'span_s' VALUE (event_time_ms - velocity_base_ms) / 1000, KEY 'limit' VALUE "
               f"{int(s['velocity_max_count'])}", "rule_hits", "velocity_hit", v),
        _alert("geo_velocity", "KEY 'distance_km' VALUE ROUND(distance_km, 1), "
               "KEY 'speed_kmh' VALUE ROUND(distance_km / elapsed_h, 1), "
               "KEY 'from_city' VALUE prev_city, KEY 'to_city' VALUE city, "
               "KEY 'elapsed_s' VALUE (event_time_ms - prev_time_ms) / 1000",
               "rule_hits", "geo_hit", v),
        _alert("small_then_large", "KEY 'small_count' VALUE small_count, "
               "KEY 'small_total' VALUE small_total, KEY 'large_amount' VALUE large_amount, "
               "KEY 'span_s' VALUE (event_time_ms - first_small_ms) / 1000", cep, "TRUE", v),
        _alert("amount_anomaly", "KEY 'amount' VALUE amount, KEY 'history_avg' VALUE "
               "ROUND((user_amount_total - amount) / (user_txn_count - 1), 2), "
               "KEY 'history_count' VALUE user_txn_count - 1", "rule_hits", "anomaly_hit", v),
    ]


def main() -> None:
    args = parse_args(JOB, DEFAULTS)
    env, t_env = create_table_env(args)
    register_sources(env, t_env, args, TRADE_COLUMNS_READ)
    define_views(t_env, args)
    file_sink(t_env, "alerts_sink", f"alerts/{JOB}", args, ALERT_COLUMNS)
    file_sink(t_env, "dead_letter_sink", f"dead-letter/{JOB}", args, DEAD_LETTER_COLUMNS)
    file_sink(t_env, "user_counters_sink", f"user-counters/{JOB}", args, COUNTER_COLUMNS)
    t_env.execute_sql("CREATE TEMPORARY VIEW alerts AS "
                      + " UNION ALL ".join(alert_queries(args)))
    statements = t_env.create_statement_set()
    statements.add_insert_sql("INSERT INTO alerts_sink SELECT * FROM alerts")
    if args.alerts_stream_arn:  # the same alerts to the alerts stream, keyed by user
        kinesis_sink(t_env, "alerts_stream", args.alerts_stream_arn, args, ALERT_COLUMNS,
                     partition_key="user_id")
        statements.add_insert_sql("INSERT INTO alerts_stream SELECT * FROM alerts")
    statements.add_insert_sql(f"""
        INSERT INTO dead_letter_sink
        SELECT 'trades', {counted_as('problem', 'dead_letters', 'reason')}, line, {NOW_MS},
               '{args.version}'
        FROM dead_trades""")
    watch = quoted_list(u.strip() for u in str(args["watchlist"]).split(",") if u.strip())
    statements.add_insert_sql(f"""
        INSERT INTO user_counters_sink
        SELECT user_id, event_id, event_time_ms, user_txn_count, user_amount_total,
               '{args.version}'
        FROM user_history WHERE user_id IN ({watch or "''"})""")
    run(statements, args)


if __name__ == "__main__":
    main()

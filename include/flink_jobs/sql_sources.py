"""Sources of both jobs and the SQL that parses and validates their JSON lines.

Every source yields a raw table (``trades_raw`` / ``market_raw``): the line, its parsed
columns under their JSON paths, and the event-time attribute ``rowtime`` (from the line's
``event_time``, watermark ``rowtime - watermark_delay_s``); the branch views below name the
columns as the jobs read them (``lat``, ``event_time_ms``, ``ts``, ...):

* ``file``: the filesystem source reads ``<input>/trades`` and ``<input>/market-data``
  (bounded: the job finishes after a final checkpoint).
* ``generator``: a checkpointed ``NumberSequenceSource`` of batch numbers (JVM, parallelism
  1) expanded by a Python flat_map into JSON lines with the shared ``streaming_events``
  generator, paced to ``--events-per-s``. Python only expands batches; parsing (JVM),
  validation and every rule run in the JVM. Restores resume at the checkpointed batch.
* ``kinesis``: the provisioned streams, read by ARN with the ``platform-kinesis`` connector
  (include/flink_jobs/java/.../kinesis, on the AWS SDK's Kinesis client; in the cluster's
  lib/ locally and in the job image). A new job starts at the stream's records from its
  first start on (``LATEST``); a restored job at its checkpointed sequence numbers.

Each line is parsed once, in the JVM (include/flink_jobs/java/), into typed columns plus
``parse_problem`` (schema.py's syntax and type reasons): the ``event-json`` format for the
file and Kinesis connectors, the ``EVENT_ROW`` function for generator lines. The domain
checks are SQL: ``problem`` is NULL for a valid event, else the dead-letter reason, the same
as ``streaming_events.schema`` gives (``trades_checked`` / ``market_checked`` show it for
every event). Jobs read the two branches: ``valid_trades`` (only the columns the job names)
and ``dead_trades`` (``problem``, ``line``); likewise ``valid_ticks`` / ``dead_ticks``.
"""

from __future__ import annotations

from pathlib import Path

from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream.connectors.number_seq import NumberSequenceSource
from pyflink.table import DataTypes, Schema

from generator_source import TICK_BATCH, TRADE_BATCH, MarketBatchExpander, TradeBatchExpander
from streaming_events.schema import CHANNELS, CURRENCIES, SIDES, SYMBOLS

KINESIS_FACTORY = "io.flinkplatform.jobs.kinesis.KinesisTableFactory"


def epoch_ms(ltz: str) -> str:
    """Epoch milliseconds of a TIMESTAMP_LTZ expression (costly: use on rare rows only)."""
    return f"(EXTRACT(EPOCH FROM {ltz}) * 1000 + MOD(EXTRACT(MILLISECOND FROM {ltz}), 1000))"


NOW_MS = epoch_ms("CURRENT_TIMESTAMP")


def quoted_list(values) -> str:
    """SQL string literals for an IN list: `'a', 'b'`."""
    return ", ".join(f"'{v}'" for v in values)


def kinesis_options(args, arn: str) -> str:
    """Connector options of a platform-kinesis table on the stream ``arn`` (source or sink)."""
    options = (f"'connector' = 'platform-kinesis', 'stream.arn' = '{arn}', "
               f"'aws.region' = '{args.region}'")
    if args.aws_endpoint:  # the AWS emulator on the local target; none on aws
        options += f", 'aws.endpoint' = '{args.aws_endpoint}'"
    return options


def _connector_options(args, stream: str) -> str:
    if args.source == "file":
        path = Path(args.input) / stream
        return f"'connector' = 'filesystem', 'path' = '{path.resolve().as_uri()}'"
    arn = args.trades_stream_arn if stream == "trades" else args.market_stream_arn
    return f"{kinesis_options(args, arn)}, 'source.init.position' = 'LATEST'"


def _check_kinesis_available() -> None:
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    try:
        jvm.java.lang.Class.forName(KINESIS_FACTORY, False,
                                    jvm.java.lang.Thread.currentThread().getContextClassLoader())
    except Exception:  # py4j wraps ClassNotFoundException
        raise SystemExit(
            f"--source kinesis: the platform-kinesis connector ({KINESIS_FACTORY}) is not on "
            "the classpath: the local stack builds it into the cluster's lib/ "
            "(flink_platform.local.flink_dist) and the job image bakes it in "
            "(include/flink_jobs/Dockerfile); its AWS SDK jars come from jars.lock") from None


# Columns of each event type, in schema.py's order (the order problems are reported in):
# JSON path (one nesting level) and SQL type. Parsed once per line by the JVM parser
# (include/flink_jobs/java/): the ``event-json`` format for connectors, EVENT_ROW for the
# generator's lines; both add ``parse_problem`` (NULL, or schema.py's reason).
TRADE_COLUMNS = (("event_id", "STRING"), ("user_id", "STRING"), ("account_id", "STRING"),
                 ("amount", "DECIMAL(18, 2)"), ("currency", "STRING"), ("symbol", "STRING"),
                 ("side", "STRING"), ("qty", "DECIMAL(18, 4)"), ("price", "DECIMAL(18, 2)"),
                 ("location.lat", "DOUBLE"), ("location.lon", "DOUBLE"),
                 ("location.city", "STRING"), ("channel", "STRING"), ("event_time", "BIGINT"))
TICK_COLUMNS = (("symbol", "STRING"), ("bid", "DECIMAL(18, 2)"), ("ask", "DECIMAL(18, 2)"),
                ("last", "DECIMAL(18, 2)"), ("volume", "DECIMAL(18, 2)"),
                ("event_time", "BIGINT"))
OPTIONAL_FIELDS = "location.city"  # schema.py does not check it
# Columns of valid_trades / valid_ticks unless a job names fewer (see _check).
VALID_TRADE_COLUMNS = ("event_id", "user_id", "account_id", "amount", "currency", "symbol",
                       "side", "qty", "price", "channel", "lat", "lon", "city",
                       "event_time_ms", "ingest_ts", "ts")
VALID_TICK_COLUMNS = ("symbol", "bid", "ask", "last_price", "volume", "event_time_ms", "ts")


def _columns(stream: str):
    return TRADE_COLUMNS if stream == "trades" else TICK_COLUMNS


def _typed(stream: str) -> str:
    """The parsed columns as SQL: ```amount` DECIMAL(18, 2), `location.lat` DOUBLE, ...``."""
    return ", ".join(f"`{path}` {sql_type}" for path, sql_type in _columns(stream))


# How the branch views read each column a job names from a raw table, where it is not
# the column itself: the raw tables keep the parsed path names (a renaming Calc in front of
# the branches would copy every string of every event), and ``ingest_ts`` is computed.
READ_AS = {"lat": "`location.lat`", "lon": "`location.lon`", "city": "`location.city`",
            "event_time_ms": "event_time", "last_price": "`last`", "ts": "rowtime",
            "ingest_ts": "CURRENT_TIMESTAMP"}


def _source_paths(stream: str, prefix: str) -> str:
    """Generator view columns: ``e.`location.lat` AS `location.lat```, ..."""
    return ", ".join(f"{prefix}`{path}` AS `{path}`" for path, _ in _columns(stream))


def _register_raw(env, t_env, args, stream: str, table: str, expander, batch: int) -> None:
    delay = int(args["watermark_delay_s"])
    if args.source in ("file", "kinesis"):
        if args.source == "kinesis":
            _check_kinesis_available()
        # ``rowtime``: the parser's TIMESTAMP_LTZ of ``event_time`` (epoch 0 when absent), so
        # the watermark needs no computed column: no Calc copying every string per event.
        t_env.execute_sql(f"""
            CREATE TEMPORARY TABLE {table}_source (
              line STRING, parse_problem STRING, rowtime TIMESTAMP_LTZ(3), {_typed(stream)},
              WATERMARK FOR rowtime AS rowtime - INTERVAL '{delay}' SECOND
            ) WITH ({_connector_options(args, stream)}, 'format' = 'event-json',
                    'event-json.optional-fields' = '{OPTIONAL_FIELDS}',
                    'event-json.rowtime-of' = 'event_time')""")
        t_env.execute_sql(f"CREATE TEMPORARY VIEW {table} AS SELECT * FROM {table}_source")
        return
    max_events = int(args["max_events"])
    batches = -(-max_events // batch) if max_events else 2**62 // batch
    if stream != "trades" and max_events:
        batches = -(-max_events // TRADE_BATCH)  # ticks span the trades' event time
    source = NumberSequenceSource(0, batches - 1)
    name = f"{stream}-generator-batches"
    numbers = (env.from_source(source, WatermarkStrategy.no_watermarks(), name)
               .uid(name).name(name).set_parallelism(1))
    lines = (numbers.flat_map(expander(args, env.get_parallelism()), output_type=Types.STRING())
             .uid(f"{stream}-generator-lines").name(f"{stream}-generator-lines"))
    # A computed column cannot read another one, so ``ts`` calls EVENT_ROW again (a second
    # parse per line). The generator is Python-paced (~10k lines/s), far below the parser.
    call = f"EVENT_ROW(f0, 'ROW<parse_problem STRING, {_typed(stream)}>', '{OPTIONAL_FIELDS}')"
    schema = (Schema.new_builder().column("f0", DataTypes.STRING())
              .column_by_expression("e", call)
              .column_by_expression("ts", f"TO_TIMESTAMP_LTZ(COALESCE({call}.`event_time`, 0), 3)")
              .watermark("ts", f"ts - INTERVAL '{delay}' SECOND").build())
    t_env.create_temporary_view(f"{table}_stream", t_env.from_data_stream(lines, schema))
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {table} AS SELECT f0 AS line, "
                      f"e.parse_problem AS parse_problem, ts AS rowtime, "
                      f"{_source_paths(stream, 'e.')} FROM {table}_stream")


def register_trade_source(env, t_env, args,
                          columns: tuple[str, ...] = VALID_TRADE_COLUMNS) -> None:
    """``trades_raw``, ``trades_checked`` (``line``, ``columns``, ``problem``), and the two
    branches a job reads: ``valid_trades`` (its ``columns``) and ``dead_trades``."""
    _register_raw(env, t_env, args, "trades", "trades_raw", TradeBatchExpander, TRADE_BATCH)
    views = ("trades_checked", "valid_trades", "dead_trades")
    _check(t_env, "trades_raw", views, columns, f"""CASE
          WHEN parse_problem IS NOT NULL THEN parse_problem
          WHEN qty <= 0 THEN 'non_positive_qty'
          WHEN price <= 0 THEN 'non_positive_price'
          WHEN amount <= 0 THEN 'non_positive_amount'
          WHEN symbol NOT IN ({quoted_list(SYMBOLS)}) THEN 'unknown_symbol'
          WHEN currency NOT IN ({quoted_list(CURRENCIES)}) THEN 'unknown_currency'
          WHEN side NOT IN ({quoted_list(SIDES)}) THEN 'bad_side'
          WHEN channel NOT IN ({quoted_list(CHANNELS)}) THEN 'bad_channel'
          WHEN `location.lat` NOT BETWEEN -90 AND 90
            OR `location.lon` NOT BETWEEN -180 AND 180 THEN 'bad_location'
          WHEN rowtime <= CURRENT_WATERMARK(rowtime) THEN 'late_event'
        END""")


def register_market_source(env, t_env, args,
                           columns: tuple[str, ...] = VALID_TICK_COLUMNS) -> None:
    """``market_raw``, ``market_checked``, and the branches ``valid_ticks`` / ``dead_ticks``."""
    _register_raw(env, t_env, args, "market-data", "market_raw", MarketBatchExpander, TICK_BATCH)
    views = ("market_checked", "valid_ticks", "dead_ticks")
    _check(t_env, "market_raw", views, columns, f"""CASE
          WHEN parse_problem IS NOT NULL THEN parse_problem
          WHEN symbol NOT IN ({quoted_list(SYMBOLS)}) THEN 'unknown_symbol'
          WHEN bid <= 0 OR bid > ask OR `last` <= 0 OR volume < 0 THEN 'bad_quote'
          WHEN rowtime <= CURRENT_WATERMARK(rowtime) THEN 'late_event'
        END""")


def _check(t_env, raw: str, views: tuple[str, str, str], columns: tuple[str, ...],
           problem: str) -> None:
    """``views``: checked (``line``, ``columns``, ``problem``: NULL or the dead-letter
    reason, for every event), valid (``columns`` of the events without a problem) and dead
    (``problem``, ``line``). The jobs read valid and dead.

    valid and dead each read the raw table and decide by ``problem`` in their own filter:
    a generated Calc copies every string it passes on (object reuse), and a shared checked
    row would carry the raw line, and every string twice more, through two Calcs per event.
    This way the line is read only for dead-letter rows and a valid event's strings are
    copied once; the checks run twice (a filter each side), which cost less than those
    copies. ``is_dead`` lets the planner merge the dead side into one Calc: ``problem`` is
    non-deterministic (``CURRENT_WATERMARK``), so it must be referenced only once above.
    Both filters sit in the same operator chain behind the watermark assigner and see the
    same watermark for each event, so every event lands in exactly one branch.
    """
    checked, valid, dead = views
    cols = ", ".join(f"{READ_AS[c]} AS {c}" if c in READ_AS else c for c in columns)
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {checked} AS "
                      f"SELECT line, {cols}, {problem} AS problem FROM {raw}")
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {valid} AS "
                      f"SELECT {cols} FROM {raw} WHERE ({problem}) IS NULL")
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW {dead} AS
        SELECT problem, line FROM (
          SELECT line, {problem} AS problem, ({problem}) IS NOT NULL AS is_dead FROM {raw})
        WHERE is_dead""")

"""Sources of both jobs and the SQL that parses and validates their JSON lines.

Every source yields a table of raw lines with an event-time attribute ``ts`` (from the
line's ``event_time``, watermark ``ts - watermark_delay_s``):

* ``file``: the filesystem source reads ``<input>/trades`` and ``<input>/market-data``
  (bounded: the job finishes after a final checkpoint).
* ``generator``: a checkpointed ``NumberSequenceSource`` of batch numbers (JVM, parallelism
  1) expanded by a Python flat_map into JSON lines with the shared ``streaming_events``
  generator, paced to ``--events-per-s``. Python only expands batches; parsing, validation
  and every rule run in SQL. Restores resume at the checkpointed batch: same events.
* ``kinesis``: the AWS Kinesis Streams table connector (jar added in the job image).

Each line is parsed once, by the JVM function ``JSON_FIELDS`` (include/flink_jobs/java/) into
the text of its fields; typing and validation happen in SQL (``trades_checked`` /
``market_checked``): ``problem`` is NULL for a valid event, else the dead-letter reason
(same reasons as ``streaming_events.schema``).
"""

from __future__ import annotations

from pathlib import Path

from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream.connectors.number_seq import NumberSequenceSource
from pyflink.table import DataTypes, Schema

from generator_source import MarketBatchExpander, TradeBatchExpander, TRADE_BATCH, TICK_BATCH
from streaming_events.schema import CHANNELS, CURRENCIES, SIDES, SYMBOLS

KINESIS_FACTORY = "org.apache.flink.connector.kinesis.table.KinesisDynamicTableFactory"


def epoch_ms(ltz: str) -> str:
    """Epoch milliseconds of a TIMESTAMP_LTZ expression (costly: use on rare rows only)."""
    return f"(EXTRACT(EPOCH FROM {ltz}) * 1000 + MOD(EXTRACT(MILLISECOND FROM {ltz}), 1000))"


NOW_MS = epoch_ms("CURRENT_TIMESTAMP")


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _connector_options(args, stream: str) -> str:
    if args.source == "file":
        path = Path(args.input) / stream
        return f"'connector' = 'filesystem', 'path' = '{path.resolve().as_uri()}', 'format' = 'raw'"
    arn = args["trades_stream_arn" if stream == "trades" else "market_stream_arn"]
    if not arn:
        raise SystemExit(f"--source kinesis needs --set {'trades' if stream == 'trades' else 'market'}"
                         "_stream_arn=arn:aws:kinesis:...")
    return (f"'connector' = 'kinesis', 'stream.arn' = '{arn}', 'aws.region' = "
            f"'{args['aws_region']}', 'source.init.position' = 'LATEST', 'format' = 'raw'")


def _check_kinesis_available() -> None:
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    try:
        jvm.java.lang.Class.forName(KINESIS_FACTORY, False,
                                    jvm.java.lang.Thread.currentThread().getContextClassLoader())
    except Exception:  # py4j wraps ClassNotFoundException
        raise SystemExit(
            "--source kinesis: the Flink AWS Kinesis Streams connector is not on the classpath. "
            "It is added to the job image at build time (include/flink_jobs/Dockerfile); "
            "locally use --source generator or --source file --input DIR.") from None


TRADE_FIELDS = ("event_id", "user_id", "account_id", "amount", "currency", "symbol", "side",
                "qty", "price", "channel", "event_time", "location.lat", "location.lon",
                "location.city")
TICK_FIELDS = ("symbol", "bid", "ask", "last", "volume", "event_time")


def _fields(stream: str) -> tuple[str, ...]:
    return TRADE_FIELDS if stream == "trades" else TICK_FIELDS


def _fields_call(stream: str, col: str) -> str:
    """One ``JSON_FIELDS`` call (include/flink_jobs/java/): every field of a line, parsed once.
    (``JSON_VALUE`` parses the whole line again for each field: 14 parses per trade.)"""
    return f"JSON_FIELDS({col}, {_quoted(_fields(stream))})"


def _event_time(stream: str, col: str) -> str:
    fields = _fields(stream)
    ms = f"{_fields_call(stream, col)}[{fields.index('event_time') + 1}]"
    return f"TO_TIMESTAMP_LTZ(COALESCE(TRY_CAST({ms} AS BIGINT), 0), 3)"


def _field_columns(stream: str) -> str:
    """``<field>_s`` text columns from the ``fields`` array, and ``parsed`` (FALSE: bad JSON)."""
    fields = _fields(stream)
    return ", ".join([f"fields[{i}] AS {f.split('.')[-1]}_s" for i, f in enumerate(fields, 1)]
                     + ["fields IS NOT NULL AS parsed"])


def _register_raw(env, t_env, args, stream: str, table: str, expander, batch: int) -> None:
    delay = int(args["watermark_delay_s"])
    if args.source in ("file", "kinesis"):
        if args.source == "kinesis":
            _check_kinesis_available()
        t_env.execute_sql(f"""
            CREATE TEMPORARY TABLE {table}_source (
              line STRING,
              fields AS {_fields_call(stream, 'line')},
              ts AS {_event_time(stream, 'line')},
              WATERMARK FOR ts AS ts - INTERVAL '{delay}' SECOND
            ) WITH ({_connector_options(args, stream)})""")
        t_env.execute_sql(f"CREATE TEMPORARY VIEW {table} AS SELECT line, "
                          f"{_field_columns(stream)}, ts FROM {table}_source")
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
    schema = (Schema.new_builder().column("f0", DataTypes.STRING())
              .column_by_expression("fields", _fields_call(stream, "f0"))
              .column_by_expression("ts", _event_time(stream, "f0"))
              .watermark("ts", f"ts - INTERVAL '{delay}' SECOND").build())
    t_env.create_temporary_view(f"{table}_stream", t_env.from_data_stream(lines, schema))
    t_env.execute_sql(f"CREATE TEMPORARY VIEW {table} AS SELECT f0 AS line, "
                      f"{_field_columns(stream)}, ts FROM {table}_stream")


def register_trade_source(env, t_env, args) -> None:
    """``trades_raw`` and the parsed, validated ``trades_checked`` / ``valid_trades`` views."""
    _register_raw(env, t_env, args, "trades", "trades_raw", TradeBatchExpander, TRADE_BATCH)
    fields = [f for f in TRADE_FIELDS if f != "location.city"]  # city: optional text
    extract = ", ".join(f"{f.split('.')[-1]}_s" for f in fields)
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW trades_fields AS
        SELECT line, ts, parsed, CURRENT_TIMESTAMP AS ingest_ts, {extract}, city_s AS city
        FROM trades_raw""")
    missing = "\n".join(f"WHEN {f.split('.')[-1]}_s IS NULL THEN 'missing_field:{f.split('.')[0]}'"
                        for f in fields)
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW trades_typed AS
        SELECT *, TRY_CAST(amount_s AS DECIMAL(18, 2)) AS amount,
               TRY_CAST(qty_s AS DECIMAL(18, 4)) AS qty,
               TRY_CAST(price_s AS DECIMAL(18, 2)) AS price,
               TRY_CAST(event_time_s AS BIGINT) AS event_time_ms,
               TRY_CAST(lat_s AS DOUBLE) AS lat, TRY_CAST(lon_s AS DOUBLE) AS lon
        FROM trades_fields""")
    # The never-true ``CHAR_LENGTH(...) < 0`` makes the dead-letter branch read ``city`` like
    # the valid branch: with equal projections the planner shares one parse Calc and one
    # watermark assigner between them (else each branch gets its own, re-parsing every line).
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW trades_checked AS
        SELECT *, CASE
          WHEN NOT parsed THEN 'bad_json'
          {missing}
          WHEN amount IS NULL THEN 'bad_type:amount'
          WHEN qty IS NULL THEN 'bad_type:qty'
          WHEN price IS NULL THEN 'bad_type:price'
          WHEN event_time_ms IS NULL THEN 'bad_type:event_time'
          WHEN lat IS NULL OR lon IS NULL OR CHAR_LENGTH(COALESCE(city, '')) < 0
            THEN 'missing_field:location'
          WHEN qty <= 0 THEN 'non_positive_qty'
          WHEN price <= 0 THEN 'non_positive_price'
          WHEN amount <= 0 THEN 'non_positive_amount'
          WHEN symbol_s NOT IN ({_quoted(SYMBOLS)}) THEN 'unknown_symbol'
          WHEN currency_s NOT IN ({_quoted(CURRENCIES)}) THEN 'unknown_currency'
          WHEN side_s NOT IN ({_quoted(SIDES)}) THEN 'bad_side'
          WHEN channel_s NOT IN ({_quoted(CHANNELS)}) THEN 'bad_channel'
          WHEN lat NOT BETWEEN -90 AND 90 OR lon NOT BETWEEN -180 AND 180 THEN 'bad_location'
          WHEN ts <= CURRENT_WATERMARK(ts) THEN 'late_event'
        END AS problem
        FROM trades_typed""")
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW valid_trades AS
        SELECT event_id_s AS event_id, user_id_s AS user_id, account_id_s AS account_id,
               amount, currency_s AS currency, symbol_s AS symbol, side_s AS side, qty, price,
               channel_s AS channel, lat, lon, city, event_time_ms, ingest_ts, ts
        FROM trades_checked WHERE problem IS NULL""")


def register_market_source(env, t_env, args) -> None:
    """``market_raw`` and the validated ``market_checked`` / ``valid_ticks`` views."""
    _register_raw(env, t_env, args, "market-data", "market_raw", MarketBatchExpander, TICK_BATCH)
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW market_typed AS
        SELECT line, ts, parsed, symbol_s AS symbol,
               TRY_CAST(bid_s AS DECIMAL(18, 2)) AS bid,
               TRY_CAST(ask_s AS DECIMAL(18, 2)) AS ask,
               TRY_CAST(last_s AS DECIMAL(18, 2)) AS last_price,
               TRY_CAST(volume_s AS DECIMAL(18, 2)) AS volume,
               TRY_CAST(event_time_s AS BIGINT) AS event_time_ms
        FROM market_raw""")
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW market_checked AS
        SELECT *, CASE
          WHEN NOT parsed THEN 'bad_json'
          WHEN symbol IS NULL THEN 'missing_field:symbol'
          WHEN event_time_ms IS NULL THEN 'missing_field:event_time'
          WHEN bid IS NULL OR ask IS NULL OR last_price IS NULL OR volume IS NULL
            THEN 'missing_field:quote'
          WHEN symbol NOT IN ({_quoted(SYMBOLS)}) THEN 'unknown_symbol'
          WHEN bid <= 0 OR bid > ask OR last_price <= 0 OR volume < 0 THEN 'bad_quote'
          WHEN ts <= CURRENT_WATERMARK(ts) THEN 'late_event'
        END AS problem
        FROM market_typed""")
    t_env.execute_sql("""
        CREATE TEMPORARY VIEW valid_ticks AS
        SELECT symbol, bid, ask, last_price, volume, event_time_ms, ts
        FROM market_checked WHERE problem IS NULL""")

"""A tiny stand-in Flink job for the sampler test: datagen -> keyed SUM -> blackhole.

Submitted with the distribution's ``bin/flink run -d -py`` (PyFlink Table API, no Python
UDFs, so it runs as plain Java): a source, a keyed aggregation with state (so checkpoints
have a size) and a sink, at ``argv[1]`` rows/s with 1 s checkpoints.
"""

import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

rate = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
name = sys.argv[2] if len(sys.argv) > 2 else "loadtest-standin"
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
env.get_config().set("pipeline.name", name)
env.get_config().set("execution.checkpointing.interval", "1 s")
env.execute_sql(f"""CREATE TABLE src (account STRING, amount DOUBLE) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{rate}', 'fields.account.length' = '3')""")
env.execute_sql("CREATE TABLE snk (account STRING, total DOUBLE) WITH ('connector' = 'blackhole')")
env.execute_sql("INSERT INTO snk SELECT account, SUM(amount) FROM src GROUP BY account")

"""Stand-in Flink job for the load-test tests, with the jobs' agreed CLI shape.

datagen at ``--events-per-s`` -> keyed running SUM per account (state, so checkpoints have
a size) -> blackhole. PyFlink Table API without Python UDFs: it runs as plain Java, so it
starts fast and its metrics (records in/out, backpressure, busy, checkpoints) are real.
The sampler tests submit it as ``fraud-detection`` (tests/loadtest/conftest.py).
"""

import argparse

from pyflink.table import EnvironmentSettings, TableEnvironment

parser = argparse.ArgumentParser()
parser.add_argument("--events-per-s", type=int, default=1000)
args = parser.parse_args()
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
env.execute_sql(f"""CREATE TABLE src (account STRING, amount DOUBLE) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{args.events_per_s}',
  'fields.account.length' = '3')""")
env.execute_sql("CREATE TABLE snk (account STRING, total DOUBLE) WITH ('connector' = 'blackhole')")
env.execute_sql("INSERT INTO snk SELECT account, SUM(amount) FROM src GROUP BY account")

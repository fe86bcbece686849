package io.flinkplatform.jobs;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TimeZone;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.core.fs.FSDataOutputStream;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinarySegmentUtils;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.utils.DateTimeUtils;

/**
 * Writes rows as JSON lines into a reused buffer, flushed to the part file when it fills
 * and on {@link #flush()} / {@link #finish()} (before every checkpoint's commit).
 *
 * <p>Per row: no JSON tree, no per-row stream write. Strings are copied from the row's
 * UTF-8 bytes with JSON escaping; timestamps keep their last formatted text per column
 * (window bounds repeat row after row).
 */
final class JsonLinesWriter implements BulkWriter<RowData> {
    private static final int FLUSH_AT = 1 << 16;
    private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private static final TimeZone UTC = TimeZone.getTimeZone("UTC");
    /** The column types {@link #writeValue} writes; others fail when the writer is made. */
    private static final Set<LogicalTypeRoot> SUPPORTED = EnumSet.of(
            LogicalTypeRoot.CHAR, LogicalTypeRoot.VARCHAR, LogicalTypeRoot.BOOLEAN,
            LogicalTypeRoot.TINYINT, LogicalTypeRoot.SMALLINT, LogicalTypeRoot.INTEGER,
            LogicalTypeRoot.BIGINT, LogicalTypeRoot.FLOAT, LogicalTypeRoot.DOUBLE,
            LogicalTypeRoot.DECIMAL, LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE);

    private final FSDataOutputStream out;
    private final LogicalType[] types;
    private final byte[][] prefixes; // {"name": then ,"name":
    private final TimestampData[] lastTimestamp;
    private final byte[][] lastTimestampText;
    private byte[] buf = new byte[FLUSH_AT * 2];
    private int pos;

    JsonLinesWriter(RowType rowType, FSDataOutputStream out) {
        this.out = out;
        List<RowType.RowField> fields = rowType.getFields();
        int n = fields.size();
        types = new LogicalType[n];
        prefixes = new byte[n][];
        lastTimestamp = new TimestampData[n];
        lastTimestampText = new byte[n][];
        for (int i = 0; i < n; i++) {
            types[i] = fields.get(i).getType();
            if (!SUPPORTED.contains(types[i].getTypeRoot())) {
                throw new IllegalArgumentException("format 'json-lines': column '"
                        + fields.get(i).getName() + "' has type " + types[i]
                        + "; it writes flat scalar columns only: cast it to STRING in the query");
            }
            prefixes[i] = ((i == 0 ? "{" : ",") + quoted(fields.get(i).getName()) + ":")
                    .getBytes(StandardCharsets.UTF_8);
        }
    }

    @Override
    public void addElement(RowData row) throws IOException {
        for (int i = 0; i < types.length; i++) {
            append(prefixes[i]);
            if (row.isNullAt(i)) {
                append(NULL);
            } else {
                writeValue(row, i);
            }
        }
        ensure(2);
        buf[pos++] = '}';
        buf[pos++] = '\n';
        if (pos >= FLUSH_AT) {
            drain();
        }
    }

    private void writeValue(RowData row, int i) {
        LogicalType type = types[i];
        switch (type.getTypeRoot()) {
            case CHAR: case VARCHAR: writeString(row.getString(i)); break;
            case BOOLEAN: append(row.getBoolean(i) ? "true" : "false"); break;
            case TINYINT: writeLong(row.getByte(i)); break;
            case SMALLINT: writeLong(row.getShort(i)); break;
            case INTEGER: writeLong(row.getInt(i)); break;
            case BIGINT: writeLong(row.getLong(i)); break;
            case FLOAT: {
                float f = row.getFloat(i);
                writeDouble(f, Float.toString(f));
                break;
            }
            case DOUBLE: {
                double d = row.getDouble(i);
                writeDouble(d, Double.toString(d));
                break;
            }
            case DECIMAL: {
                DecimalType d = (DecimalType) type;
                writeDecimal(row.getDecimal(i, d.getPrecision(), d.getScale()));
                break;
            }
            case TIMESTAMP_WITHOUT_TIME_ZONE: {
                int precision = ((TimestampType) type).getPrecision();
                writeTimestamp(i, row.getTimestamp(i, precision), precision);
                break;
            }
            default: throw new IllegalStateException("unsupported type " + type);
        }
    }

    private void writeString(StringData value) {
        BinaryStringData s = (BinaryStringData) value;
        s.ensureMaterialized();
        int len = s.getSizeInBytes();
        ensure(len + 2);
        buf[pos++] = '"';
        int start = pos;
        BinarySegmentUtils.copyToBytes(s.getSegments(), s.getOffset(), buf, start, len);
        for (int k = start; k < start + len; k++) {
            int b = buf[k];
            if (b == '"' || b == '\\' || (b >= 0 && b < 0x20)) {
                pos = start;
                writeEscaped(s.toBytes());
                return;
            }
        }
        pos = start + len;
        buf[pos++] = '"';
    }

    private void writeEscaped(byte[] utf8) {
        ensure(utf8.length * 6 + 1);
        for (byte b : utf8) {
            if (b == '"' || b == '\\') {
                buf[pos++] = '\\';
                buf[pos++] = b;
            } else if (b >= 0 && b < 0x20) {
                int esc = b == '\n' ? 'n' : b == '\r' ? 'r' : b == '\t' ? 't'
                        : b == '\b' ? 'b' : b == '\f' ? 'f' : 0;
                buf[pos++] = '\\';
                if (esc != 0) {
                    buf[pos++] = (byte) esc;
                } else {
                    buf[pos++] = 'u';
                    buf[pos++] = '0';
                    buf[pos++] = '0';
                    buf[pos++] = HEX[b >> 4];
                    buf[pos++] = HEX[b & 0xF];
                }
            } else {
                buf[pos++] = b;
            }
        }
        buf[pos++] = '"';
    }

    private void writeLong(long v) {
        append(Long.toString(v));
    }

    private void writeDouble(double v, String text) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            append(quoted(text)); // as Jackson writes non-finite numbers
        } else {
            append(text);
        }
    }

    private void writeDecimal(DecimalData value) {
        if (value.isCompact()) {
            writeUnscaled(value.toUnscaledLong(), value.scale());
        } else {
            BigDecimal bd = value.toBigDecimal();
            append(bd.toPlainString());
        }
    }

    /** Plain text of unscaled x 10^-scale, as BigDecimal.toPlainString writes it. */
    private void writeUnscaled(long unscaled, int scale) {
        if (scale == 0) {
            writeLong(unscaled);
            return;
        }
        String digits = Long.toString(Math.abs(unscaled));
        if (unscaled < 0) {
            append("-");
        }
        int intDigits = digits.length() - scale;
        if (intDigits > 0) {
            append(digits.substring(0, intDigits));
            append(".");
            append(digits.substring(intDigits));
        } else {
            append("0.");
            for (int k = intDigits; k < 0; k++) {
                append("0");
            }
            append(digits);
        }
    }

    private void writeTimestamp(int i, TimestampData ts, int precision) {
        if (!ts.equals(lastTimestamp[i])) {
            lastTimestamp[i] = ts;
            lastTimestampText[i] = quoted(DateTimeUtils.formatTimestamp(ts, UTC, precision))
                    .getBytes(StandardCharsets.US_ASCII);
        }
        append(lastTimestampText[i]);
    }

    private static String quoted(String plain) {
        return "\"" + plain.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private void append(String ascii) {
        int len = ascii.length();
        ensure(len);
        ascii.getBytes(0, len, buf, pos); // ASCII only: digits, signs, literals
        pos += len;
    }

    private void append(byte[] bytes) {
        ensure(bytes.length);
        System.arraycopy(bytes, 0, buf, pos, bytes.length);
        pos += bytes.length;
    }

    private void ensure(int more) {
        if (pos + more > buf.length) {
            byte[] bigger = new byte[Math.max(buf.length * 2, pos + more)];
            System.arraycopy(buf, 0, bigger, 0, pos);
            buf = bigger;
        }
    }

    private void drain() throws IOException {
        out.write(buf, 0, pos);
        pos = 0;
    }

    @Override
    public void flush() throws IOException {
        drain();
        out.flush();
    }

    @Override
    public void finish() throws IOException {
        flush(); // the part writer closes the stream
    }
}

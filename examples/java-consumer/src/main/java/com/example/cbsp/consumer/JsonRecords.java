package com.example.cbsp.consumer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.IndexedRecord;

/**
 * An Avro record as JSON, in the project's plain form (as {@code cbsp tail} prints it): strings as
 * strings, {@code timestamp-millis} as RFC 3339 UTC with milliseconds, decimals as decimal strings.
 */
final class JsonRecords {
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
  private static final DateTimeFormatter MILLIS =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private JsonRecords() {}

  static JsonNode toJson(Object value) {
    if (value == null) {
      return JSON.nullNode();
    }
    if (value instanceof IndexedRecord record) {
      ObjectNode object = JSON.objectNode();
      for (Schema.Field field : record.getSchema().getFields()) {
        object.set(field.name(), toJson(record.get(field.pos())));
      }
      return object;
    }
    if (value instanceof CharSequence text) {
      // org.apache.avro.util.Utf8 where a reader has no stringType String: equals(String) is false,
      // toString() is the text
      return JSON.textNode(text.toString());
    }
    if (value instanceof Instant instant) { // timestamp-millis, with TimestampMillisConversion
      return JSON.textNode(MILLIS.format(instant));
    }
    if (value instanceof BigDecimal decimal) { // decimal(18, 6), with DecimalConversion: "0.100000"
      return JSON.textNode(decimal.toPlainString());
    }
    if (value instanceof Integer number) {
      return JSON.numberNode(number);
    }
    if (value instanceof Long number) {
      return JSON.numberNode(number);
    }
    if (value instanceof Double number) {
      return JSON.numberNode(number);
    }
    if (value instanceof Float number) {
      return JSON.numberNode(number);
    }
    if (value instanceof Boolean flag) {
      return JSON.booleanNode(flag);
    }
    if (value instanceof Map<?, ?> map) {
      ObjectNode object = JSON.objectNode();
      map.forEach((key, item) -> object.set(key.toString(), toJson(item)));
      return object;
    }
    if (value instanceof Collection<?> items) {
      ArrayNode array = JSON.arrayNode();
      items.forEach(item -> array.add(toJson(item)));
      return array;
    }
    if (value instanceof ByteBuffer bytes) { // plain bytes (none in the cbsp schemas): base64
      return JSON.textNode(Base64.getEncoder().encodeToString(toArray(bytes)));
    }
    return JSON.textNode(value.toString()); // enum symbols and anything else
  }

  private static byte[] toArray(ByteBuffer buffer) {
    ByteBuffer copy = buffer.duplicate();
    byte[] bytes = new byte[copy.remaining()];
    copy.get(bytes);
    return bytes;
  }
}

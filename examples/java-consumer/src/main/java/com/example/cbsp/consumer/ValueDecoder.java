package com.example.cbsp.consumer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.regex.Pattern;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Reads the Avro values of the cbsp topics, told apart by their first byte:
 *
 * <ul>
 *   <li>{@code C3 01}: Avro single-object encoding (the marker, the writer schema's 8-byte CRC-64-AVRO
 *       fingerprint little-endian, the body), what the workers write by default;
 *   <li>{@code 00}: the Confluent wire format (byte 0, the registry's 4-byte big-endian schema id, the
 *       same body), what the workers write when a schema registry is configured;
 *   <li>anything else: a {@link DecodeException}.
 * </ul>
 */
final class ValueDecoder {
  static final String SCHEMA_HEADER = "schema"; // full schema name, e.g. cbsp.MessageStatusEvent
  static final String FINGERPRINT_HEADER = "schema-fingerprint"; // 16 hex digits, as after C3 01

  private static final int SINGLE_OBJECT_HEADER = 10; // C3 01 + 8-byte fingerprint
  private static final int CONFLUENT_HEADER = 5; // 00 + 4-byte schema id
  private static final Pattern HEX16 = Pattern.compile("[0-9a-f]{16}");

  /** A decoded value: the full name of its schema and the generated class's instance. */
  record Decoded(String schema, SpecificRecord record) {}

  private final CbspSchemas schemas;

  ValueDecoder(CbspSchemas schemas) {
    this.schemas = schemas;
  }

  Decoded decode(byte[] value, Headers headers) throws DecodeException {
    String declared = header(headers, SCHEMA_HEADER);
    if (value.length >= SINGLE_OBJECT_HEADER && value[0] == (byte) 0xC3 && value[1] == (byte) 0x01) {
      return singleObject(value, declared);
    }
    if (value.length >= CONFLUENT_HEADER && value[0] == 0) {
      return confluent(value, declared, header(headers, FINGERPRINT_HEADER));
    }
    String start = HexFormat.of().formatHex(Arrays.copyOf(value, Math.min(4, value.length)));
    throw new DecodeException(
        "neither Avro single-object encoding (marker C3 01) nor the Confluent wire format "
            + "(byte 00 and a schema id): the value begins with "
            + (start.isEmpty() ? "nothing" : start));
  }

  /** The class named by the {@code schema} header (or else by the fingerprint), via its generated decoder. */
  private Decoded singleObject(byte[] value, String declared) throws DecodeException {
    long fingerprint = ByteBuffer.wrap(value, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    CbspSchemas.Entry writer = schemas.byFingerprint(fingerprint).orElse(null);
    CbspSchemas.Entry reader = declared == null ? writer : named(declared);
    if (reader == null) {
      throw new DecodeException(unknownFingerprint(fingerprint) + " and no " + SCHEMA_HEADER + " header");
    }
    if (writer != null && writer != reader) {
      throw new DecodeException(
          "header " + SCHEMA_HEADER + "=" + declared + " but the value was written with " + writer.fullName()
              + " (fingerprint " + writer.fingerprintHex() + ")");
    }
    try {
      return new Decoded(reader.fullName(), reader.singleObject().decode(value));
    } catch (MissingSchemaException e) {
      // the store holds no schema with this fingerprint: another version of the writer's schema
      String named = " (header " + SCHEMA_HEADER + "=" + declared + ")";
      throw new DecodeException(unknownFingerprint(fingerprint) + named, e);
    } catch (IOException | RuntimeException e) {
      throw new DecodeException("body does not decode as " + reader.fullName() + ": " + e, e);
    }
  }

  /**
   * The class named by the {@code schema} header; when a {@code schema-fingerprint} header is there
   * too, the class's schema must be the writer's. The registry's id is not looked up: the example
   * needs no registry client, and the shipped schemas are the ones the workers register.
   */
  private Decoded confluent(byte[] value, String declared, String fingerprintHeader) throws DecodeException {
    int schemaId = ByteBuffer.wrap(value, 1, 4).order(ByteOrder.BIG_ENDIAN).getInt();
    if (declared == null) {
      throw new DecodeException(
          "Confluent wire format (schema id " + schemaId + ") without a " + SCHEMA_HEADER
              + " header: only the registry knows which schema wrote it");
    }
    CbspSchemas.Entry entry = named(declared);
    if (fingerprintHeader != null) {
      if (!HEX16.matcher(fingerprintHeader).matches()) {
        throw new DecodeException(
            "header " + FINGERPRINT_HEADER + "=" + fingerprintHeader + " is not 16 lowercase hex digits");
      }
      if (!fingerprintHeader.equals(entry.fingerprintHex())) {
        throw new DecodeException(
            String.format(
                "header %s=%s is not the fingerprint of the generated %s (%s): the value (schema id %d)"
                    + " was written with another version of the schema",
                FINGERPRINT_HEADER, fingerprintHeader, entry.fullName(), entry.fingerprintHex(), schemaId));
      }
    }
    int length = value.length - CONFLUENT_HEADER;
    BinaryDecoder body = DecoderFactory.get().binaryDecoder(value, CONFLUENT_HEADER, length, null);
    String what = entry.fullName() + " (schema id " + schemaId + ")";
    SpecificRecord record;
    try {
      record = entry.body().read(null, body);
      if (!body.isEnd()) { // no fingerprint guards this body: at least it must fit exactly
        throw new DecodeException("bytes left after the body of " + what);
      }
    } catch (IOException | RuntimeException e) {
      throw new DecodeException("body does not decode as " + what + ": " + e, e);
    }
    return new Decoded(entry.fullName(), record);
  }

  private CbspSchemas.Entry named(String fullName) throws DecodeException {
    return schemas
        .byName(fullName)
        .orElseThrow(
            () -> new DecodeException("no generated class for header " + SCHEMA_HEADER + "=" + fullName));
  }

  /** Both spellings of a fingerprint: the docs' hex and Avro's signed long (its MissingSchemaException). */
  private static String unknownFingerprint(long fingerprint) {
    return "unknown writer schema fingerprint " + CbspSchemas.fingerprintHex(fingerprint)
        + " (Avro's signed long: " + fingerprint + ")";
  }

  private static String header(Headers headers, String name) {
    Header header = headers.lastHeader(name);
    if (header == null || header.value() == null) {
      return null;
    }
    return new String(header.value(), StandardCharsets.UTF_8);
  }
}

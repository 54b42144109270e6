package com.example.cbsp.consumer;

import cbsp.InboundMessageEvent;
import cbsp.LinkClickEvent;
import cbsp.MessagePriceEvent;
import cbsp.MessageState;
import cbsp.MessageStatePrice;
import cbsp.MessageStateStatus;
import cbsp.MessageStatusEvent;
import cbsp.SourceRef;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * The classes avro-maven-plugin generated from the project's {@code schemas/*.avsc}, found by full
 * schema name (the {@code schema} header) or by writer fingerprint (the 8 bytes after {@code C3 01}).
 *
 * <p>One {@link SchemaStore.Cache} holds every generated schema: each class's single-object decoder
 * resolves any of them by fingerprint.
 */
final class CbspSchemas {

  /** One generated class: its schema, fingerprint and the two readers of its body. */
  record Entry(
      String fullName,
      Schema schema,
      long fingerprint,
      String fingerprintHex,
      BinaryMessageDecoder<? extends SpecificRecord> singleObject,
      SpecificDatumReader<? extends SpecificRecord> body) {}

  private final Map<String, Entry> byName = new LinkedHashMap<>();
  private final Map<Long, Entry> byFingerprint = new LinkedHashMap<>();

  private CbspSchemas() {}

  /** Every generated class, with one schema store shared by their decoders. */
  static CbspSchemas load() {
    SchemaStore.Cache store = new SchemaStore.Cache();
    List<Schema> all =
        List.of(
            MessageStatusEvent.getClassSchema(),
            MessagePriceEvent.getClassSchema(),
            LinkClickEvent.getClassSchema(),
            InboundMessageEvent.getClassSchema(),
            MessageState.getClassSchema(),
            MessageStateStatus.getClassSchema(),
            MessageStatePrice.getClassSchema(),
            SourceRef.getClassSchema());
    all.forEach(store::addSchema);

    CbspSchemas schemas = new CbspSchemas();
    schemas.add(MessageStatusEvent.class, MessageStatusEvent::createDecoder, store);
    schemas.add(MessagePriceEvent.class, MessagePriceEvent::createDecoder, store);
    schemas.add(LinkClickEvent.class, LinkClickEvent::createDecoder, store);
    schemas.add(InboundMessageEvent.class, InboundMessageEvent::createDecoder, store);
    schemas.add(MessageState.class, MessageState::createDecoder, store);
    schemas.add(MessageStateStatus.class, MessageStateStatus::createDecoder, store);
    schemas.add(MessageStatePrice.class, MessageStatePrice::createDecoder, store);
    schemas.add(SourceRef.class, SourceRef::createDecoder, store);
    return schemas;
  }

  /**
   * Avro 1.12.2 refuses to instantiate a class outside its trusted packages ({@code SecurityException:
   * Forbidden cbsp.MessageStatusEvent! This class is not trusted ...}). The usual answer is
   * {@code -Dorg.apache.avro.SERIALIZABLE_PACKAGES=cbsp} on the command line; this adds exactly the
   * generated classes to whatever is trusted already, so a forgotten flag cannot break the reader.
   */
  static void trustGeneratedClasses() {
    ClassSecurityValidator.ClassSecurityPredicate generated =
        ClassSecurityValidator.builder()
            .add(MessageStatusEvent.class)
            .add(MessagePriceEvent.class)
            .add(LinkClickEvent.class)
            .add(InboundMessageEvent.class)
            .add(MessageState.class)
            .add(MessageStateStatus.class)
            .add(MessageStatePrice.class)
            .add(SourceRef.class)
            .build();
    ClassSecurityValidator.setGlobal(
        ClassSecurityValidator.composite(ClassSecurityValidator.getGlobal(), generated));
  }

  private <T extends SpecificRecord> void add(
      Class<T> type, Function<SchemaStore, BinaryMessageDecoder<T>> decoder, SchemaStore store) {
    // The generated decoders and SpecificDatumReader(Class) use the class's own SpecificData (its
    // MODEL$), which carries the timestamp-millis and decimal conversions: fields come out as
    // Instant and BigDecimal, not Long and ByteBuffer.
    SpecificDatumReader<T> body = new SpecificDatumReader<>(type);
    Schema schema = body.getSchema();
    Entry entry =
        new Entry(
            schema.getFullName(),
            schema,
            SchemaNormalization.parsingFingerprint64(schema),
            fingerprintHex(schema),
            decoder.apply(store),
            body);
    byName.put(entry.fullName(), entry);
    byFingerprint.put(entry.fingerprint(), entry);
  }

  Optional<Entry> byName(String fullName) {
    return Optional.ofNullable(byName.get(fullName));
  }

  Optional<Entry> byFingerprint(long fingerprint) {
    return Optional.ofNullable(byFingerprint.get(fingerprint));
  }

  /**
   * The fingerprint as the docs and the {@code schema-fingerprint} header write it: the 8 bytes in
   * the order they follow {@code C3 01} (little-endian), as hex. {@code parsingFingerprint} returns
   * exactly those bytes; Java's {@code long} of them ({@code parsingFingerprint64}, the number in
   * {@code MissingSchemaException}) is the same 8 bytes read little-endian, printed signed.
   */
  static String fingerprintHex(Schema schema) {
    try {
      return HexFormat.of().formatHex(SchemaNormalization.parsingFingerprint("CRC-64-AVRO", schema));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("CRC-64-AVRO is built into Avro", e);
    }
  }

  /** The hex form of a fingerprint Java holds as a (signed, little-endian) long. */
  static String fingerprintHex(long fingerprint) {
    byte[] bytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(fingerprint).array();
    return HexFormat.of().formatHex(bytes);
  }
}

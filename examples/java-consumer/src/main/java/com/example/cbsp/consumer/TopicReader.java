package com.example.cbsp.consumer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** The consumer loop: poll, decode each value, print a JSON line per record, count per topic. */
final class TopicReader {
  private static final Duration POLL = Duration.ofMillis(200);
  private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

  /** The topics cannot be read at all (no such topic, no partitions assigned). */
  static final class SetupException extends Exception {
    private static final long serialVersionUID = 1L;

    SetupException(String message) {
      super(message);
    }
  }

  private final Options options;
  private final ValueDecoder decoder;
  private final PrintStream out;
  private final ObjectMapper json = new ObjectMapper();
  private final Map<String, long[]> counts = new LinkedHashMap<>(); // topic -> {decoded, failed}
  private final Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>(); // what to commit
  private long seen;

  TopicReader(Options options, ValueDecoder decoder, PrintStream out) {
    this.options = options;
    this.decoder = decoder;
    this.out = out;
    options.topics().forEach(topic -> counts.put(topic, new long[2]));
  }

  /** Reads until idle or --max-records; returns the exit status (0: every record decoded, 1: not). */
  int run() throws SetupException {
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config())) {
      start(consumer);
      long deadline = System.nanoTime() + SETUP_TIMEOUT.toNanos();
      long lastRecord = System.nanoTime();
      boolean assigned = options.groupId() == null;
      while (seen < options.maxRecords()) {
        ConsumerRecords<String, byte[]> records = consumer.poll(POLL);
        long now = System.nanoTime();
        if (!assigned && !consumer.assignment().isEmpty()) {
          assigned = true; // a group member: the idle clock runs from its first assignment
          lastRecord = now;
        }
        if (!assigned && now > deadline) {
          throw new SetupException("group " + options.groupId() + " got no partition of " + options.topics()
              + " within " + SETUP_TIMEOUT.toSeconds() + " s");
        }
        if (records.isEmpty()) {
          if (assigned && now - lastRecord >= Duration.ofMillis(options.idleMs()).toNanos()) {
            break;
          }
          continue;
        }
        lastRecord = now;
        for (ConsumerRecord<String, byte[]> record : records) {
          if (seen >= options.maxRecords()) {
            break;
          }
          print(record);
        }
        out.flush();
      }
      if (options.groupId() != null && !next.isEmpty()) {
        consumer.commitSync(next); // every record printed or reported, failed ones too
      }
    }
    printSummary();
    long failed = counts.values().stream().mapToLong(c -> c[1]).sum();
    return failed == 0 ? 0 : 1;
  }

  private Properties config() {
    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers());
    config.put(ConsumerConfig.CLIENT_ID_CONFIG, "cbsp-java-consumer");
    // the workers write in Kafka transactions: see only committed ones, never an aborted write
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    config.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    // raw bytes, decoded here: a value that does not decode is reported and skipped, where a
    // throwing Deserializer would stop poll() at that offset
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    if (options.groupId() != null) {
      config.put(ConsumerConfig.GROUP_ID_CONFIG, options.groupId());
    }
    return config;
  }

  /** A group member subscribes; otherwise every partition of every topic, from the beginning. */
  private void start(KafkaConsumer<String, byte[]> consumer) throws SetupException {
    if (options.groupId() != null) {
      consumer.subscribe(options.topics());
      return;
    }
    List<TopicPartition> partitions = new ArrayList<>();
    for (String topic : options.topics()) {
      List<PartitionInfo> infos;
      try {
        infos = consumer.partitionsFor(topic, SETUP_TIMEOUT);
      } catch (TimeoutException e) {
        throw new SetupException("no metadata of " + topic + " from " + options.bootstrapServers()
            + " within " + SETUP_TIMEOUT.toSeconds() + " s: is the broker there?");
      }
      if (infos == null || infos.isEmpty()) {
        throw new SetupException("no topic " + topic + " on " + options.bootstrapServers());
      }
      infos.forEach(info -> partitions.add(new TopicPartition(topic, info.partition())));
    }
    consumer.assign(partitions);
    consumer.seekToBeginning(partitions);
  }

  private void print(ConsumerRecord<String, byte[]> record) {
    seen++;
    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
    next.put(partition, new OffsetAndMetadata(record.offset() + 1));
    long[] count = counts.computeIfAbsent(record.topic(), topic -> new long[2]);
    ObjectNode line = json.createObjectNode();
    line.put("topic", record.topic());
    line.put("partition", record.partition());
    line.put("offset", record.offset());
    line.put("key", record.key());
    if (record.value() == null) { // a tombstone (a deleted key of a compacted topic): nothing to decode
      line.putNull("schema");
      line.putNull("record");
    } else {
      try {
        ValueDecoder.Decoded decoded = decoder.decode(record.value(), record.headers());
        line.put("schema", decoded.schema());
        line.set("record", JsonRecords.toJson(decoded.record()));
      } catch (DecodeException e) {
        count[1]++;
        System.err.printf(
            "decode failed: topic=%s partition=%d offset=%d: %s%n",
            record.topic(), record.partition(), record.offset(), e.getMessage());
        return;
      }
    }
    count[0]++;
    out.println(write(line));
  }

  private void printSummary() {
    ObjectNode summary = json.createObjectNode();
    ObjectNode topics = summary.putObject("summary");
    counts.forEach(
        (topic, count) -> topics.putObject(topic).put("decoded", count[0]).put("failed", count[1]));
    out.println(write(summary));
    out.flush();
  }

  private String write(ObjectNode node) {
    try {
      return json.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always writes", e);
    }
  }
}

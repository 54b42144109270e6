package com.example.cbsp.consumer;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.KafkaException;

/**
 * {@code java -Dorg.apache.avro.SERIALIZABLE_PACKAGES=cbsp -jar cbsp-java-consumer.jar
 * --bootstrap-servers HOST:PORT --topics events.status.v1,... [--group-id G] [--idle-ms 5000]
 * [--max-records N]}: one JSON line per record on stdout, then a summary line; decode errors on
 * stderr. Exit status 0 when every record decoded, 1 when some did not, 2 on a usage or setup error.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args);
    } catch (Options.UsageException e) {
      System.err.println(e.getMessage());
      System.exit(e.help() ? 0 : 2);
      return;
    }
    CbspSchemas.trustGeneratedClasses();
    // stdout holds the JSON lines only, UTF-8 whatever the platform's default
    BufferedOutputStream stdout = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out));
    PrintStream out = new PrintStream(stdout, false, StandardCharsets.UTF_8);
    int status;
    try {
      status = new TopicReader(options, new ValueDecoder(CbspSchemas.load()), out).run();
    } catch (TopicReader.SetupException | KafkaException e) {
      System.err.println("cbsp-java-consumer: " + e.getMessage());
      status = 2;
    } finally {
      out.flush();
    }
    System.exit(status);
  }
}

package com.example.cbsp.consumer;

import java.io.File;
import java.io.IOException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * {@code java -cp cbsp-java-consumer.jar com.example.cbsp.consumer.LoadSchemas FILE...}: reads the
 * given {@code .avsc} files with one classic {@link Schema.Parser}, in the order given, and prints
 * the full names of every type the parser then knows, one per line. For schemas without generated
 * classes (a generic consumer): give it {@code cbsp schemas --bundle cbsp.avsc} (one file, every
 * record), or the files {@code cbsp schemas DIR} writes, in the order it prints them. Exit status
 * 1 when a file does not parse (in name order: {@code Undefined schema: cbsp.SourceRef}).
 */
public final class LoadSchemas {
  private LoadSchemas() {}

  public static void main(String[] args) {
    Schema.Parser parser = new Schema.Parser();
    for (String path : args) {
      try {
        parser.parse(new File(path));
      } catch (IOException | SchemaParseException e) {
        System.err.println(path + ": " + e.getMessage());
        System.exit(1);
      }
    }
    parser.getTypes().keySet().stream().sorted().forEach(System.out::println);
  }
}

package com.example.cbsp.consumer;

import java.util.ArrayList;
import java.util.List;

/**
 * The command line: {@code --bootstrap-servers HOST:PORT --topics A,B [--group-id G] [--idle-ms 5000]
 * [--max-records N]}.
 */
record Options(String bootstrapServers, List<String> topics, String groupId, long idleMs, long maxRecords) {

  static final String USAGE =
      "usage: java -Dorg.apache.avro.SERIALIZABLE_PACKAGES=cbsp -jar cbsp-java-consumer.jar\n"
          + "         --bootstrap-servers HOST:PORT --topics events.status.v1,events.price.v1,...\n"
          + "         [--group-id G] [--idle-ms 5000] [--max-records N]\n"
          + "Reads the topics (read_committed) and prints one JSON line per record, then a summary line.\n"
          + "Without --group-id: every partition from the beginning, nothing committed.\n"
          + "With --group-id G: as a member of group G, from G's committed offsets (a new group: from the\n"
          + "beginning), committing what was printed at the end.\n"
          + "Stops after --idle-ms without a record, or after --max-records records.\n"
          + "Exit status: 0 every record decoded, 1 some record did not, 2 usage or setup error.";

  /** A bad command line, or --help; the message is for the user. */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean help;

    UsageException(String message) {
      this(message, false);
    }

    UsageException(String message, boolean help) {
      super(message);
      this.help = help;
    }

    boolean help() {
      return help;
    }
  }

  static Options parse(String[] args) throws UsageException {
    String bootstrap = null;
    List<String> topics = new ArrayList<>();
    String group = null;
    long idleMs = 5000;
    long maxRecords = Long.MAX_VALUE;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        value = arg.substring(eq + 1);
        arg = arg.substring(0, eq);
      }
      if (arg.equals("--help") || arg.equals("-h")) {
        throw new UsageException(USAGE, true);
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new UsageException(arg + " needs a value\n" + USAGE);
        }
        value = args[++i];
      }
      switch (arg) {
        case "--bootstrap-servers" -> bootstrap = value;
        case "--topics" -> {
          for (String topic : value.split(",")) {
            if (!topic.isBlank()) {
              topics.add(topic.strip());
            }
          }
        }
        case "--group-id" -> group = value;
        case "--idle-ms" -> idleMs = positive(arg, value);
        case "--max-records" -> maxRecords = positive(arg, value);
        default -> throw new UsageException("unknown option " + arg + "\n" + USAGE);
      }
    }
    if (bootstrap == null || topics.isEmpty()) {
      throw new UsageException("--bootstrap-servers and --topics are required\n" + USAGE);
    }
    return new Options(bootstrap, List.copyOf(topics), group, idleMs, maxRecords);
  }

  private static long positive(String option, String value) throws UsageException {
    try {
      long number = Long.parseLong(value);
      if (number > 0) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new UsageException(option + " must be a positive whole number, not " + value);
  }
}

package com.example.cbsp.consumer;

/** A Kafka value that is not a cbsp Avro record this consumer can read; the message says why. */
public final class DecodeException extends Exception {
  private static final long serialVersionUID = 1L;

  public DecodeException(String message) {
    super(message);
  }

  public DecodeException(String message, Throwable cause) {
    super(message, cause);
  }
}

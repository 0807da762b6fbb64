"""SQS: publishing to the FIFO queues and rejecting malformed messages to their dead-letter queue."""

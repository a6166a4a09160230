"""Integration tests on LocalStack (S3 + SQS) and PostgreSQL: the whole upload → resize loop."""

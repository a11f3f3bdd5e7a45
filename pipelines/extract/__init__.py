"""Extract stage: pull records from department sources and land them as batches."""

"""Storage: Azure Table Storage repositories, queues, blobs and encryption at rest."""

"""The Prometheus side: the HTTP API client, scrape configurations and ``vigilante prometheus-config``'s files."""

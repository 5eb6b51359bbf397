"""Deep beta sweeps: settings (``settings``), tasks and seeds (``tasks``), executors, the results store, summaries."""
